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
            np.save(tmp / f"y_{split}.npy", np.asarray(dataset.y[split], dtype=np.int64),
                    allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(dataset.meta, indent=2, sort_keys=True),
                                       encoding="utf-8")


def load_prepared(path: str | os.PathLike, mmap: bool = True) -> PreparedDataset:
    """Load a directory written by :func:`save_prepared`.

    Raises :class:`DataError` naming the missing or unreadable file.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError("not a prepared dataset (no meta.json); run the workflow's "
                        "data stage first", where=path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", where=meta_path, line=exc.lineno) from exc
    X, y = {}, {}
    for split in SPLITS:
        sparse_file, dense_file = path / f"X_{split}.npz", path / f"X_{split}.npy"
        if sparse_file.is_file():
            X[split] = sp.load_npz(sparse_file).tocsr()
        elif dense_file.is_file():
            X[split] = np.load(dense_file, mmap_mode="r" if mmap else None, allow_pickle=False)
        else:
            raise DataError(f"missing X_{split}.npz or X_{split}.npy", where=path)
        y_file = path / f"y_{split}.npy"
        if not y_file.is_file():
            raise DataError(f"missing y_{split}.npy", where=path)
        y[split] = np.load(y_file, allow_pickle=False)
        if y[split].shape[0] != X[split].shape[0]:
            raise DataError(f"{y[split].shape[0]} labels for {X[split].shape[0]} rows "
                            f"in split '{split}'", where=path)
    return PreparedDataset(X=X, y=y, meta=meta)
