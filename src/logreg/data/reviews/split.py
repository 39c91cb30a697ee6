"""Stage 2: a stratified, seeded train/validation/test split of a domain's reviews.

Each class is split on its own, so every split keeps the class balance of the domain:
the reviews of a class (in table order) are permuted with the generator, the first
``round(test_fraction * n)`` go to ``test``, the next ``round(val_fraction * n)`` to
``val`` and the rest to ``train``. Classes are processed in label order with one
generator, so a seed gives the same split on every machine. The split is saved, and the
vocabulary is built from ``train`` only: it never sees a test review.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logreg.errors import ConfigError, DataError
from logreg.fileio import atomic_path
from logreg.linear.model_selection import stratified_partition

SPLIT_NAMES = ("train", "val", "test")
PART_NAMES = ("test", "val", "train")  # the order stratified_partition numbers them in


def stratified_split(
    labels: np.ndarray,
    test_fraction: float,
    val_fraction: float,
    rng: np.random.Generator,
    names: bool = True,
) -> np.ndarray:
    """Assign each example to ``"train"``, ``"val"`` or ``"test"``, stratified by label.

    Parameters
    ----------
    labels : array of int, shape (n_samples,)
    test_fraction, val_fraction : float
        Fractions of each class held out; both in (0, 1), their sum below 1.
    rng : numpy.random.Generator
    names : bool
        False: the index of each example's split in :data:`PART_NAMES` instead of its name.

    Returns
    -------
    ndarray of str (or int), shape (n_samples,)

    Raises
    ------
    ConfigError
        For fractions out of range (naming ``split.test_fraction``/``split.val_fraction``).
    DataError
        When a class is too small to give every split at least one example.
    """
    for key, value in (
        ("split.test_fraction", test_fraction),
        ("split.val_fraction", val_fraction),
    ):
        if not 0.0 < value < 1.0:
            raise ConfigError(key, f"must be between 0 and 1 (exclusive), got {value}")
    if test_fraction + val_fraction >= 1.0:
        raise ConfigError(
            "split",
            f"test_fraction + val_fraction = "
            f"{test_fraction + val_fraction:g} leaves no training data",
        )
    labels = np.asarray(labels)
    for label, n_members in zip(*np.unique(labels, return_counts=True)):
        n_test, n_val = round(test_fraction * n_members), round(val_fraction * n_members)
        if min(n_test, n_val, n_members - n_test - n_val) < 1:
            raise DataError(
                f"class {label} has only {n_members} reviews: too few for a "
                f"train/val/test split with test_fraction={test_fraction} and "
                f"val_fraction={val_fraction}"
            )
    parts = stratified_partition(labels, [test_fraction, val_fraction], rng)
    return np.array(PART_NAMES)[parts] if names else parts


def split_table(
    reviews: pd.DataFrame, test_fraction: float, val_fraction: float, seed: int
) -> pd.DataFrame:
    """The split of a reviews table: columns ``unique_id``, ``label``, ``split``."""
    columns = pa.Table.from_pandas(reviews[["unique_id", "label"]], preserve_index=False)
    return split_arrow(columns, test_fraction, val_fraction, seed).to_pandas()


def split_arrow(
    reviews: pa.Table, test_fraction: float, val_fraction: float, seed: int
) -> pa.Table:
    """The split of a reviews table (its ``unique_id`` and ``label`` columns) as an Arrow
    table with the column ``split`` added, without a Python object per review (at 10^7
    reviews a pandas table took 3 GB)."""
    rng = np.random.default_rng(seed)
    labels = reviews["label"].to_numpy()
    parts = stratified_split(labels, test_fraction, val_fraction, rng, names=False)
    split = pa.array(PART_NAMES).take(pa.array(parts))
    return pa.table({"unique_id": reviews["unique_id"], "label": reviews["label"], "split": split})


def split_ids(path: str | os.PathLike) -> dict[str, list[str]]:
    """The ``unique_id`` of each row of each split's prepared X, in row order: the reviews
    of that split in the order of the split file (the table's order)."""
    table = pq.read_table(path, columns=["unique_id", "split"])
    return {
        name: table.filter(pc.equal(table["split"], name))["unique_id"].to_pylist()
        for name in SPLIT_NAMES
    }


def write_split(split: pa.Table, path: str | os.PathLike) -> None:
    """Write a split table (:func:`split_arrow`) to Parquet atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(split, tmp)


def read_split(path: str | os.PathLike, reviews: pd.DataFrame) -> pd.Series:
    """Read a split file and align it with ``reviews``; return the split of each row.

    Raises
    ------
    DataError
        If the file is unreadable, or its unique_ids are not exactly those of the table
        (the split was made for other reviews).
    """
    if not Path(path).is_file():
        raise DataError("no such file; run the split stage first", where=path)
    try:
        split = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the split: {exc}", where=path) from exc
    if not {"unique_id", "split"} <= set(split.columns) or not set(split["split"]).issubset(
        SPLIT_NAMES
    ):
        raise DataError(
            f"expected columns unique_id and split with values {SPLIT_NAMES}", where=path
        )
    mapping = split.set_index("unique_id")["split"]
    if (
        len(mapping) != len(reviews)
        or not mapping.index.is_unique
        or not reviews["unique_id"].isin(mapping.index).all()
    ):
        raise DataError(
            "the split does not list exactly the reviews of the table; rerun the split stage",
            where=path,
        )
    return mapping.loc[reviews["unique_id"]].reset_index(drop=True)
