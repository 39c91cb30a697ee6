"""Hashed features (``text.hashing``) in one pass: shards of term counts, one weighting merge.

Without a vocabulary, nothing a shard computes depends on another shard's reviews but the
idf and ``min_count``, which only need the per-column document frequencies of all training
reviews. So:

1. :func:`hash_shard_stage`, per shard: each review is tokenized and hashed once
   (:class:`~logreg.data.reviews.hashed_tokens.HashedTokenizer`) into its row of raw term
   counts, streamed to flat files per split (column, count, row sizes, row lengths), with
   the shard's :class:`~logreg.data.reviews.hashing.HashedCounts` (document frequencies and
   counts of its training rows, column names; see the hashing module for the names).
2. :func:`merge_hashed_stage`: the counts added, then each split's rows of all shards, in
   shard order, weighted exactly as :meth:`Vectorizer.transform
   <logreg.data.reviews.vectorize.Vectorizer.transform>` does (columns under ``min_count``
   dropped, counts -> sublinear tf -> weighting -> unit rows, each row's norm the same
   ``numpy.dot``) and streamed into the prepared folder's ``X_<split>.npz``: memory holds a
   block of rows, never a split's matrix. The prepared folder is that of the two-pass
   stages, bit for bit (``tests/data/test_reviews_hashed_stage.py``).

A domain of one shard has no shard job: the merge runs step 1 itself, in a temporary
folder beside its output.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logreg.data.prepared import SPLITS
from logreg.data.reviews import json_text
from logreg.data.reviews.hashed_tokens import HashedTokenizer
from logreg.data.reviews.hashing import NAME_SAMPLE, HashedCounts, top_terms
from logreg.data.reviews.parse import reviews_metadata
from logreg.data.reviews.sharded import shard_record_batches
from logreg.data.reviews.stages import TEXT_FIELDS, prepared_meta
from logreg.data.reviews.vectorize import Vectorizer
from logreg.errors import ConfigError, DataError
from logreg.fileio import atomic_dir

log = logging.getLogger(__name__)

_SOURCES_KEY = b"logreg.source_files"
_MANIFEST = "manifest.json"
_COUNTS = "hashed_counts.npz"
_COLUMN_ROWS = "column_rows.npz"
#: The flat files of a split in a shard's folder: name -> dtype (one value per row or nnz).
_ROW_FILES = {"row_nnz": np.int32, "lengths": np.int32, "y": np.int64}
_NNZ_FILES = {"columns": np.int32, "counts": np.int32}
#: Rows weighted at a time by the merge (~180 non-zeros each: ~50 MB of temporaries).
BLOCK_ROWS = 16384


def arrow_texts(batch: pa.RecordBatch, fields: Sequence[str] = TEXT_FIELDS) -> pa.Array:
    """The text vectorized for each review (its ``fields`` joined by a newline), as
    :func:`~logreg.data.reviews.stages.document_texts` makes it, without Python strings."""
    if not fields or any(f not in TEXT_FIELDS for f in fields):
        raise ConfigError(
            "text.fields", f"got {list(fields)}, expected a non-empty subset of {list(TEXT_FIELDS)}"
        )
    columns = [pc.fill_null(batch[name], "") for name in fields]
    if len(columns) == 1:
        return columns[0]
    return pc.binary_join_element_wise(*columns, "\n")


def hash_shard_stage(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Hashed term counts of one shard's rows of each split, in one pass, into ``out_dir``."""
    n_bits = vectorizer._hashing_bits()
    n_columns = 1 << n_bits
    hasher = HashedTokenizer(vectorizer.tokenizer, n_bits)
    document_frequency = np.zeros(n_columns, dtype=np.int64)
    count = np.zeros(n_columns, dtype=np.int64)
    sample, fallback, n_train = [], {}, 0
    sizes = {name: {"rows": 0, "nnz": 0} for name in SPLITS}
    # Rows of each split holding each column: the merge sizes its output before writing it.
    column_rows = {name: np.zeros(n_columns, dtype=np.int32) for name in SPLITS}
    with atomic_dir(out_dir) as tmp:
        files = {
            (name, part): open(tmp / f"{name}.{part}", "wb")
            for name in SPLITS
            for part in (*_ROW_FILES, *_NNZ_FILES)
        }
        try:
            for batch, split in shard_record_batches(reviews_path, split_path, shard, fields):
                texts = arrow_texts(batch, fields)
                train = split == "train"
                indptr, columns, counts, lengths, names = hasher.transform(texts, train)
                for column, name in names:
                    fallback.setdefault(column, name)
                row_nnz = np.diff(indptr)
                in_train = np.repeat(train, row_nnz)
                document_frequency += np.bincount(columns[in_train], minlength=n_columns)
                count += np.bincount(
                    columns[in_train], weights=counts[in_train], minlength=n_columns
                ).astype(np.int64)
                if len(sample) < NAME_SAMPLE:
                    rows = np.flatnonzero(train)[: NAME_SAMPLE - len(sample)]
                    sample += texts.take(pa.array(rows, type=pa.int64())).to_pylist()
                n_train += int(train.sum())
                labels = batch["label"].to_numpy(zero_copy_only=False).astype(np.int64)
                for name in SPLITS:
                    rows = np.flatnonzero(split == name)
                    cells = np.repeat(split == name, row_nnz)
                    values = {
                        "row_nnz": row_nnz[rows],
                        "lengths": lengths[rows],
                        "y": labels[rows],
                        "columns": columns[cells],
                        "counts": counts[cells],
                    }
                    for part, dtype in {**_ROW_FILES, **_NNZ_FILES}.items():
                        files[name, part].write(np.ascontiguousarray(values[part], dtype).data)
                    column_rows[name] += np.bincount(values["columns"], minlength=n_columns).astype(
                        np.int32
                    )
                    sizes[name]["rows"] += len(rows)
                    sizes[name]["nnz"] += int(cells.sum())
        finally:
            for stream in files.values():
                stream.close()
        names, name_count = top_terms(map(vectorizer.tokenizer, sample), n_bits)
        for column, name in fallback.items():
            if not names[column]:
                names[column] = name
        HashedCounts(n_bits, n_train, document_frequency, count, names, name_count).save(
            tmp / _COUNTS
        )
        np.savez(tmp / _COLUMN_ROWS, **column_rows)
        (tmp / _MANIFEST).write_text(json.dumps({"n_bits": n_bits, **sizes}), encoding="utf-8")
    log.info(
        "shard %d: %d reviews hashed (%d training) -> %s",
        shard,
        sum(s["rows"] for s in sizes.values()),
        n_train,
        out_dir,
    )


class _Part:
    """One shard's folder of :func:`hash_shard_stage`, read a block of rows at a time."""

    def __init__(self, folder: str | os.PathLike, n_bits: int):
        self.folder = Path(folder)
        try:
            manifest = json.loads((self.folder / _MANIFEST).read_text("utf-8"))
            (self.folder / _COUNTS).stat()  # read by read_counts, one part at a time
            self.sizes = {name: manifest[name] for name in SPLITS}
            if manifest["n_bits"] != n_bits:
                raise ValueError(f"hashed into 2^{manifest['n_bits']} columns, not 2^{n_bits}")
            for name in SPLITS:
                expected = {
                    **{p: self.sizes[name]["rows"] for p in _ROW_FILES},
                    **{p: self.sizes[name]["nnz"] for p in _NNZ_FILES},
                }
                dtypes = {**_ROW_FILES, **_NNZ_FILES}
                for part, n in expected.items():
                    size = (self.folder / f"{name}.{part}").stat().st_size
                    if size != n * np.dtype(dtypes[part]).itemsize:
                        raise ValueError(f"{name}.{part} has {size} bytes, expected {n} values")
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"not a complete shard of hash-shard: {exc}; rerun it", where=folder
            ) from exc

    def read_counts(self) -> HashedCounts:
        """The shard's hashed counts of its training reviews (2^n_bits names)."""
        try:
            return HashedCounts.load(self.folder / _COUNTS)
        except DataError as exc:
            raise DataError(
                f"not a complete shard of hash-shard: {exc}; rerun it", where=self.folder
            ) from exc

    def kept_nnz(self, name: str, kept: np.ndarray) -> int:
        """Non-zeros of split ``name`` in ``kept`` columns (read when needed: 2^b values)."""
        try:
            with np.load(self.folder / _COLUMN_ROWS, allow_pickle=False) as column_rows:
                rows = column_rows[name]
            if int(rows.sum()) != self.sizes[name]["nnz"]:
                raise ValueError(f"{_COLUMN_ROWS} does not add up to the {name} non-zeros")
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(
                f"not a complete shard of hash-shard: {exc}; rerun it", where=self.folder
            ) from exc
        return int(rows[kept].sum())

    def read(self, name: str, part: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Values ``start:stop`` of one flat file (read, not memory-mapped: bounded RSS)."""
        dtype = np.dtype({**_ROW_FILES, **_NNZ_FILES}[part])
        total = self.sizes[name]["rows" if part in _ROW_FILES else "nnz"]
        stop = total if stop is None else stop
        with open(self.folder / f"{name}.{part}", "rb") as stream:
            return np.fromfile(stream, dtype, count=stop - start, offset=start * dtype.itemsize)

    def blocks(self, name: str, kept: np.ndarray):
        """``(rows, columns, counts, lengths)`` of each block of rows, columns not ``kept``
        left out; ``rows`` numbers the block's rows from 0."""
        n_rows = self.sizes[name]["rows"]
        indptr = np.concatenate([[0], np.cumsum(self.read(name, "row_nnz"), dtype=np.int64)])
        for start in range(0, n_rows, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, n_rows)
            low, high = int(indptr[start]), int(indptr[stop])
            columns = self.read(name, "columns", low, high)
            keep = kept[columns]
            rows = np.repeat(
                np.arange(stop - start, dtype=np.int64), np.diff(indptr[start : stop + 1])
            )
            yield (
                rows[keep],
                columns[keep],
                self.read(name, "counts", low, high)[keep],
                self.read(name, "lengths", start, stop),
            )


def _npy_header(stream, dtype, n: int) -> None:
    """The header of a 1-D ``.npy`` of ``n`` values of ``dtype``."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
    np.lib.format.write_array_header_1_0(stream, {**header, "shape": (n,)})


def write_split(
    parts: Sequence[_Part], name: str, vectorizer: Vectorizer, path: Path, tmp: Path
) -> int:
    """Write split ``name`` of all parts as ``scipy.sparse.save_npz`` would (CSR,
    uncompressed), in one pass over the parts' blocks; returns its number of non-zeros.

    The sizes come from the parts' per-column row counts; ``data.npy`` is written as the
    blocks are weighted while their columns go to a scratch file in ``tmp``, copied into
    ``indices.npy`` after (a zip archive writes one member at a time).
    """
    kept = vectorizer._kept
    n_columns = vectorizer.n_features
    nnz = sum(part.kept_nnz(name, kept) for part in parts)
    n_rows = sum(part.sizes[name]["rows"] for part in parts)
    # scipy's choice of index dtype for this shape and nnz: what a loaded matrix has.
    limit = np.iinfo(np.int32).max
    index = np.dtype(np.int32 if max(nnz, n_rows, n_columns) <= limit else np.int64)
    row_nnz, written = [np.zeros(1, dtype=np.int64)], 0
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive,
        tempfile.TemporaryFile(dir=tmp) as scratch,
    ):
        for key, value in (("format", np.array(b"csr")), ("shape", np.array([n_rows, n_columns]))):
            with archive.open(f"{key}.npy", "w", force_zip64=True) as stream:
                np.lib.format.write_array(stream, value, allow_pickle=False)
        with archive.open("data.npy", "w", force_zip64=True) as stream:
            _npy_header(stream, np.float32, nnz)
            for part in parts:
                for rows, columns, counts, lengths in part.blocks(name, kept):
                    stream.write(vectorizer.weigh(rows, columns, counts, lengths).data)
                    scratch.write(columns.astype(index).data)
                    row_nnz.append(np.bincount(rows, minlength=len(lengths)))
                    written += len(columns)
        if written != nnz:  # the parts do not add up: never leave a wrong file
            raise DataError(f"{written} non-zeros where the shards counted {nnz}; rerun them")
        with archive.open("indices.npy", "w", force_zip64=True) as stream:
            _npy_header(stream, index, nnz)
            scratch.seek(0)
            while chunk := scratch.read(1 << 26):
                stream.write(chunk)
        with archive.open("indptr.npy", "w", force_zip64=True) as stream:
            indptr = np.cumsum(np.concatenate(row_nnz)).astype(index)
            _npy_header(stream, index, len(indptr))
            stream.write(indptr.data)
    return nnz


def merge_hashed_stage(
    parts: Sequence[str | os.PathLike],
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    domain: str,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """The prepared folder of a domain from its shards' hashed counts (see the module
    docstring); without ``parts`` the one shard is hashed here first."""
    try:
        sources = json.loads(reviews_metadata(reviews_path)[_SOURCES_KEY])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"not a reviews table of the parse stage: {exc}", where=reviews_path
        ) from exc
    if not parts:
        Path(out_dir).parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".hashed.", dir=Path(out_dir).parent) as tmp:
            part = Path(tmp) / "shard"
            hash_shard_stage(reviews_path, 0, split_path, part, vectorizer, fields)
            merge_hashed_stage(
                [part], reviews_path, split_path, out_dir, domain, vectorizer, fields
            )
        return
    n_bits = vectorizer._hashing_bits()
    loaded = [_Part(folder, n_bits) for folder in parts]
    # Added one part at a time (HashedCounts.merge is a left fold: the same result): each
    # part holds 2^n_bits column names, and the 39 parts of 10^7 reviews held 2.5 GB.
    counts = loaded[0].read_counts()
    for part in loaded[1:]:
        counts = HashedCounts.merge([counts, part.read_counts()])
    vectorizer.set_hashed_counts(counts)
    meta = prepared_meta(domain, vectorizer, sources, fields)
    with atomic_dir(out_dir) as tmp:
        # The layout of logreg.data.prepared.save_prepared, X written a block at a time.
        for name in SPLITS:
            nnz = write_split(loaded, name, vectorizer, tmp / f"X_{name}.npz", tmp)
            y = np.concatenate([np.zeros(0, np.int64), *(p.read(name, "y") for p in loaded)])
            np.save(tmp / f"y_{name}.npy", y, allow_pickle=False)
            log.info("%s %s: %d reviews, %d non-zeros", domain, name, len(y), nnz)
        (tmp / "meta.json").write_text(
            json_text.dumps(meta, indent=2, sort_keys=True), encoding="utf-8"
        )
        vectorizer.save(tmp / "vectorizer.json")
    log.info("wrote the prepared dataset of %s to %s", domain, out_dir)
