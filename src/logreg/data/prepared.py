"""The on-disk format of a prepared dataset: what the data stages write, training reads.

A prepared dataset is one directory::

    <dir>/meta.json                # kind, class labels and names, feature info, sources
    <dir>/X_<split>.npz | .npy     # features: scipy.sparse CSR (.npz) or dense float32 (.npy)
    <dir>/y_<split>.npy            # integer class indices into meta["classes"]

with ``split`` in ``train``, ``val``, ``test``. Dense arrays are loaded memory-mapped
and every array with ``allow_pickle=False``: a prepared dataset is data, never code.
The directory is written atomically (see :func:`logreg.fileio.atomic_dir`).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from logreg.errors import DataError
from logreg.fileio import atomic_dir

SPLITS = ("train", "val", "test")


@dataclass
class PreparedDataset:
    """Features and labels of the three splits plus the metadata that describes them.

    ``meta`` keys used downstream: ``kind`` ("reviews" or "faces"), ``name``,
    ``class_names`` (list of str, index = label), ``feature_names`` (optional list of
    str, e.g. the vocabulary), ``image_shape`` (optional, e.g. [48, 48]),
    ``source_files`` (mapping path -> sha256 of the raw inputs).
    """

    X: dict[str, np.ndarray | sp.csr_matrix]
    y: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])


# meta.json keys that describe the examples rather than the options that made them.
_NOT_OPTIONS = {"feature_names", "class_names", "source_files", "row_ids", "skipped_rows"}
_NOT_OPTIONS |= {"feature_seconds", "name", "kind", "weighting"}  # weighting: also in text


def recorded_options(meta: dict) -> dict[str, object]:
    """The options a prepared folder was made with, flat (``text.bigrams``, ``features``,
    ``kmeans.n_centroids``, ``split_sizes.train``, ...): what a run records as its data."""
    flat: dict[str, object] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in sorted(node.items()):
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk({k: v for k, v in meta.items() if k not in _NOT_OPTIONS}, "")
    return flat


def save_prepared(path: str | os.PathLike, dataset: PreparedDataset) -> None:
    """Write ``dataset`` to directory ``path`` atomically (all files or none)."""
    missing = [s for s in SPLITS if s not in dataset.X or s not in dataset.y]
    if missing:
        raise ValueError(f"prepared dataset lacks split(s) {missing}")
    with atomic_dir(path) as tmp:
        for split in SPLITS:
            X = dataset.X[split]
            if sp.issparse(X):
                sp.save_npz(tmp / f"X_{split}.npz", sp.csr_matrix(X), compressed=False)
            else:
                np.save(tmp / f"X_{split}.npy", np.ascontiguousarray(X), allow_pickle=False)
            np.save(
                tmp / f"y_{split}.npy",
                np.asarray(dataset.y[split], dtype=np.int64),
                allow_pickle=False,
            )
        (tmp / "meta.json").write_text(
            json.dumps(dataset.meta, indent=2, sort_keys=True), encoding="utf-8"
        )


def _load_array(
    file: Path, *, mmap: bool = False, sparse: bool = False, kinds: str = "biuf"
) -> np.ndarray | sp.csr_matrix:
    """Load one array of a prepared dataset; anything but plain numbers is refused.

    numpy and scipy say a file that is not a ``.npy``/``.npz`` "contains pickled
    (object) data" and refuse to load it (``allow_pickle=False``); that, an object
    array, or a truncated file becomes a :class:`DataError` naming the file.
    """
    try:
        if sparse:
            array = sp.load_npz(file).tocsr()
        else:
            array = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # numpy's advice to load it with allow_pickle=True is not ours to give.
        reason = str(exc).split(" If you trust")[0].rstrip(".")
        raise DataError(
            f"cannot load the array: {reason}; a prepared dataset holds plain "
            "numeric arrays and is never unpickled: rerun the data stage",
            where=file,
        ) from exc
    if array.dtype.kind not in kinds:
        raise DataError(
            f"unexpected dtype {array.dtype}: expected "
            f"{'integer' if kinds == 'iu' else 'numeric'} values; rerun the "
            "data stage",
            where=file,
        )
    return array


def load_prepared(path: str | os.PathLike, mmap: bool = True) -> PreparedDataset:
    """Load a directory written by :func:`save_prepared`.

    Raises :class:`DataError` naming the missing or unreadable file.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError(
            "not a prepared dataset (no meta.json); run the workflow's data stage first", where=path
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", where=meta_path, line=exc.lineno) from exc
    X, y = {}, {}
    for split in SPLITS:
        sparse_file, dense_file = path / f"X_{split}.npz", path / f"X_{split}.npy"
        if sparse_file.is_file():
            X[split] = _load_array(sparse_file, sparse=True)
        elif dense_file.is_file():
            X[split] = _load_array(dense_file, mmap=mmap)
        else:
            raise DataError(f"missing X_{split}.npz or X_{split}.npy", where=path)
        y_file = path / f"y_{split}.npy"
        if not y_file.is_file():
            raise DataError(f"missing y_{split}.npy", where=path)
        y[split] = _load_array(y_file, kinds="iu")
        if y[split].shape[0] != X[split].shape[0]:
            raise DataError(
                f"{y[split].shape[0]} labels for {X[split].shape[0]} rows in split '{split}'",
                where=path,
            )
    return PreparedDataset(X=X, y=y, meta=meta)
