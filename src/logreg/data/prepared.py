"""The on-disk format of a prepared dataset: what the data stages write, training reads.

A prepared dataset is one directory::

    <dir>/meta.json                # kind, class labels and names, feature info, sources
    <dir>/X_<split>.npz | .npy     # features: scipy.sparse CSR (.npz) or dense float32 (.npy)
    <dir>/y_<split>.npy            # integer class indices into meta["classes"]

with ``split`` in ``train``, ``val``, ``test``. Dense arrays are loaded memory-mapped
and every array with ``allow_pickle=False``: a prepared dataset is data, never code.
A sparse split is read when it is first used (:class:`SplitMatrices`), so a run holds
only the splits it is working on; one larger than ``stream_above_mb`` is not read at all
but memory-mapped and streamed a block of rows at a time at every use
(:class:`~logreg.linear.streamed.StreamedCSR`, the same numbers). The directory is written
atomically (see :func:`logreg.fileio.atomic_dir`).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import weakref
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from logreg.errors import DataError
from logreg.fileio import atomic_dir
from logreg.linear.streamed import StreamedCSR

SPLITS = ("train", "val", "test")


@dataclass
class PreparedDataset:
    """Features and labels of the three splits plus the metadata that describes them.

    ``meta`` keys used downstream: ``kind`` ("reviews" or "faces"), ``name``,
    ``class_names`` (list of str, index = label), ``feature_names`` (optional list of
    str, e.g. the vocabulary), ``image_shape`` (optional, e.g. [48, 48]),
    ``source_files`` (mapping path -> sha256 of the raw inputs).
    """

    X: Mapping[str, np.ndarray | sp.csr_matrix | StreamedCSR]
    y: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def shapes(self) -> dict[str, tuple[int, int]]:
        """``(n_rows, n_features)`` of each split's X, without reading a split not read yet."""
        if isinstance(self.X, SplitMatrices):
            return dict(self.X.shapes)
        return {split: tuple(X.shape) for split, X in self.X.items()}

    def release(self, split: str) -> None:
        """Let go of ``split``'s sparse X, read from its file (a later use reads it
        again); X held in memory or memory-mapped is kept."""
        if isinstance(self.X, SplitMatrices):
            self.X.release(split)


class SplitMatrices(Mapping):
    """X of each split, read from its file when first used and kept until released.

    At 10^6 reviews the three splits' sparse X take 1.4 GB: a run that reads the test
    split only to score it, after letting go of the training split, holds at most the
    training and validation splits (docs/scale.md).

    ``files`` (the open files the readers read) are closed when this object goes. Held
    open, they are the files of the folder as it was opened: a data stage that replaces
    the folder meanwhile (:func:`logreg.fileio.atomic_dir` renames it away) does not
    change what a split read later holds.
    """

    def __init__(
        self,
        readers: dict[str, Callable[[], np.ndarray | sp.csr_matrix]],
        shapes: dict[str, tuple[int, int]],
        loaded: dict[str, np.ndarray | sp.csr_matrix] | None = None,
        files: list | None = None,
    ):
        self._readers, self.shapes = readers, shapes
        self._loaded = dict(loaded or {})
        weakref.finalize(self, _close, list(files or []))

    def __getitem__(self, split: str) -> np.ndarray | sp.csr_matrix:
        if split not in self._loaded:
            self._loaded[split] = self._readers[split]()
        return self._loaded[split]

    def __iter__(self) -> Iterator[str]:
        return iter(self._readers)

    def __len__(self) -> int:
        return len(self._readers)

    def release(self, split: str) -> None:
        self._loaded.pop(split, None)


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


_UNREADABLE = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile)


def _close(files: list) -> None:
    for handle in files:
        handle.close()


def _unreadable(file: Path, exc: Exception) -> DataError:
    # numpy's advice to load it with allow_pickle=True is not ours to give.
    reason = str(exc).split(" If you trust")[0].rstrip(".")
    if isinstance(exc, KeyError):  # str() of a KeyError quotes its message
        reason = reason.strip("'")
    return DataError(
        f"cannot load the array: {reason}; a prepared dataset holds plain "
        "numeric arrays and is never unpickled: rerun the data stage",
        where=file,
    )


def _load_array(
    file: Path, *, mmap: bool = False, sparse: bool = False, kinds: str = "biuf", handle=None
) -> np.ndarray | sp.csr_matrix:
    """Load one array of a prepared dataset; anything but plain numbers is refused.

    numpy and scipy say a file that is not a ``.npy``/``.npz`` "contains pickled
    (object) data" and refuse to load it (``allow_pickle=False``); that, an object
    array, or a truncated file becomes a :class:`DataError` naming the file. ``handle``:
    ``file`` opened (binary) earlier, read instead of the path (sparse only).
    """
    try:
        if sparse:
            if handle is not None:
                handle.seek(0)
            array = sp.load_npz(file if handle is None else handle).tocsr()
        else:
            array = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except _UNREADABLE as exc:
        raise _unreadable(file, exc) from exc
    if array.dtype.kind not in kinds:
        raise DataError(
            f"unexpected dtype {array.dtype}: expected "
            f"{'integer' if kinds == 'iu' else 'numeric'} values; rerun the "
            "data stage",
            where=file,
        )
    return array


def _open_streamed(file: Path, handle) -> StreamedCSR:
    """The sparse X of ``file`` (open as ``handle``) memory-mapped, to be read a block of
    rows at a time at each use: the arrays of an uncompressed ``save_npz`` archive are
    plain ``.npy`` members stored at known offsets, so they map without a copy."""
    try:
        offsets = {}
        with zipfile.ZipFile(handle) as archive:  # leaves handle open
            for name in ("format", "shape", "data", "indices", "indptr"):
                info = archive.getinfo(f"{name}.npy")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(f"{name}.npy is compressed; rerun the data stage")
                handle.seek(info.header_offset + 26)  # the local header's name/extra sizes
                name_size, extra_size = struct.unpack("<HH", handle.read(4))
                handle.seek(info.header_offset + 30 + name_size + extra_size)
                shape, dtype = _npy_header(handle)
                offsets[name] = (handle.tell(), dtype, math.prod(shape))
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        arrays = {
            name: np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)
            for name, (offset, dtype, count) in offsets.items()
        }
        kind = arrays["format"].reshape(-1)[0]
        if (kind.decode() if isinstance(kind, bytes) else str(kind)) != "csr":
            raise ValueError(f"not a CSR matrix but {kind!r}")
        X = StreamedCSR(
            mapping,
            arrays["data"],
            arrays["indices"],
            np.array(arrays["indptr"]),  # 8 bytes a row at most: in memory
            tuple(int(s) for s in arrays["shape"]),
            source=file,
        )
    except _UNREADABLE as exc:
        raise _unreadable(file, exc) from exc
    return X


def _npy_header(stream) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the ``.npy`` array that starts at ``stream``'s position;
    leaves the position at its first value. Refuses what is not plain numbers."""
    version = np.lib.format.read_magic(stream)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read_header(stream)
    if fortran_order or dtype.hasobject:
        raise ValueError("not a plain array")
    return shape, dtype


#: Members every ``scipy.sparse.save_npz`` file has.
_NPZ_MEMBERS = ("format.npy", "shape.npy", "data.npy")


def _sparse_shape(file: Path, handle) -> tuple[int, int]:
    """The shape of the sparse matrix in ``file``, from its zip directory and the small
    members, without reading its values; refuses what :func:`_load_array` would refuse
    (not a zip, missing members, values not numeric) so that a bad file fails when the
    dataset is opened, not when the split is first used. ``handle``: ``file``, open."""
    try:
        with zipfile.ZipFile(handle) as archive:  # leaves handle open
            missing = [name for name in _NPZ_MEMBERS if name not in archive.namelist()]
            if missing:
                raise KeyError(f"no {', '.join(missing)} in the archive")
            with archive.open("shape.npy") as fh:
                shape = np.lib.format.read_array(fh, allow_pickle=False)
            with archive.open("data.npy") as fh:
                dtype = _npy_header(fh)[1]
    except _UNREADABLE as exc:
        raise _unreadable(file, exc) from exc
    if dtype.kind not in "biuf":
        raise DataError(
            f"unexpected dtype {dtype}: expected numeric values; rerun the data stage",
            where=file,
        )
    return int(shape[0]), int(shape[1])


def load_prepared(
    path: str | os.PathLike, mmap: bool = True, stream_above_mb: float | None = None
) -> PreparedDataset:
    """Load a directory written by :func:`save_prepared`.

    ``stream_above_mb``: a sparse split whose file is larger than this many MiB is not
    read into memory but streamed from its file at each use
    (:class:`~logreg.linear.streamed.StreamedCSR`; the same products bit for bit). None:
    every split is read.

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
    readers, shapes, loaded, y, files = {}, {}, {}, {}, []
    try:
        for split in SPLITS:
            _open_split(path, split, readers, shapes, loaded, y, files, mmap, stream_above_mb)
    except BaseException:
        _close(files)
        raise
    return PreparedDataset(X=SplitMatrices(readers, shapes, loaded, files), y=y, meta=meta)


def _open_split(
    path: Path, split: str, readers, shapes, loaded, y, files, mmap: bool, stream_above_mb
) -> None:
    """Check ``split``'s files in ``path`` and add its reader, shape, labels (and, for a
    dense X, the memory-mapped array; for a sparse one, the open file) to the others."""
    sparse_file, dense_file = path / f"X_{split}.npz", path / f"X_{split}.npy"
    if sparse_file.is_file():
        # Read on first use (the sparse values are the memory of a large run), from
        # the file as it is now.
        files.append(open(sparse_file, "rb"))  # closed with the SplitMatrices
        shapes[split] = _sparse_shape(sparse_file, files[-1])
        size_mb = os.fstat(files[-1].fileno()).st_size / 2**20
        if stream_above_mb is not None and size_mb > stream_above_mb:
            readers[split] = lambda file=sparse_file, handle=files[-1]: _open_streamed(file, handle)
        else:
            readers[split] = lambda file=sparse_file, handle=files[-1]: _load_array(
                file, sparse=True, handle=handle
            )
    elif dense_file.is_file():
        # Memory-mapped (mapping it reads nothing), and kept: checked now, and a
        # release cannot lose it.
        loaded[split] = _load_array(dense_file, mmap=mmap)
        readers[split] = lambda array=loaded[split]: array
        shapes[split] = tuple(loaded[split].shape)
    else:
        raise DataError(f"missing X_{split}.npz or X_{split}.npy", where=path)
    y_file = path / f"y_{split}.npy"
    if not y_file.is_file():
        raise DataError(f"missing y_{split}.npy", where=path)
    y[split] = _load_array(y_file, kinds="iu")
    if y[split].shape[0] != shapes[split][0]:
        raise DataError(
            f"{y[split].shape[0]} labels for {shapes[split][0]} rows in split '{split}'",
            where=path,
        )
