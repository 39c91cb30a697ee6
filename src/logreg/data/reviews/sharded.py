"""The review stages of a domain in shards: one job per shard, merged exactly.

For shards ``0..K-1`` of a domain (:mod:`logreg.data.reviews.shards`), after the split
of the merged table (whose rows are the shards' rows, in order):

1. :func:`count_stage`, per shard: the term counts of the shard's *training* reviews,
   read from the row groups of the merged table that hold the shard's rows (the table
   records each shard's number of rows).
2. :func:`merge_counts_stage`: the counts added term by term (those of one pass over
   all training reviews), then the vocabulary selected from them exactly as
   :func:`~logreg.data.reviews.vocabulary.build_vocabulary` does: the same TSV file.
3. :func:`vectorize_shard_stage`, per shard: the shard's rows of each split, with the
   vocabulary and the idf of all training reviews.
4. :func:`gather_stage`: each split's rows of all shards stacked in shard order (the rows
   of one pass, in table order) into the prepared folder of a single pass.

With hashed features (``text.hashing``) step 2 only adds the shards' per-column counts
(no vocabulary) and step 3 needs nothing but them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from logreg.data.prepared import SPLITS
from logreg.data.reviews.parse import BATCH_SIZE, SHARD_ROWS_KEY, reviews_metadata
from logreg.data.reviews.split import SPLIT_NAMES
from logreg.data.reviews.stages import (
    TEXT_FIELDS,
    document_texts,
    set_vocabulary_file,
    write_prepared,
)
from logreg.data.reviews.vectorize import Vectorizer
from logreg.data.reviews.vocabulary import (
    count_terms,
    merge_term_counts,
    read_term_counts,
    select_vocabulary,
    write_term_counts,
    write_vocabulary_tsv,
)
from logreg.errors import ConfigError, DataError
from logreg.fileio import atomic_dir

log = logging.getLogger(__name__)

_SOURCES_KEY = b"logreg.source_files"


def shard_batches(
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    shard: int,
    fields: Sequence[str],
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """:func:`shard_record_batches` as pandas data frames."""
    for batch, split in shard_record_batches(reviews_path, split_path, shard, fields):
        yield batch.to_pandas(), split


def shard_record_batches(
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    shard: int,
    fields: Sequence[str],
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """One shard's rows of the merged table (ids, labels and the text ``fields``) and their
    split, a batch of rows at a time: memory holds one batch, whatever the shard's size.

    Only the row groups that hold the shard's rows are read (the table records each
    shard's number of rows); the split is checked to list exactly the shard's ids.
    """
    try:
        shard_rows = json.loads(reviews_metadata(reviews_path)[SHARD_ROWS_KEY])
        parquet = pq.ParquetFile(reviews_path)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"not a reviews table of the parse stage: {exc}; rerun it", where=reviews_path
        ) from exc
    if not 0 <= shard < len(shard_rows):
        raise DataError(
            f"the table has {len(shard_rows)} shard(s), not a shard {shard}; rerun the parse stage",
            where=reviews_path,
        )
    offset, n_rows = sum(shard_rows[:shard]), shard_rows[shard]
    groups, first, position = [], 0, 0
    for i in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(i).num_rows
        if position < offset + n_rows and position + size > offset:
            first = position if not groups else first
            groups.append(i)
        position += size

    def rows(columns):
        """The shard's rows of ``columns``, batch by batch."""
        position = first
        for batch in parquet.iter_batches(BATCH_SIZE, row_groups=groups, columns=columns):
            low = max(offset - position, 0)
            high = min(offset + n_rows - position, len(batch))
            position += len(batch)
            if low < high:
                yield batch.slice(low, high - low)

    ids = [i for batch in rows(["unique_id"]) for i in batch["unique_id"].to_pylist()]
    split = shard_split(split_path, ids, offset)
    done = 0
    for batch in rows(["unique_id", "label", *fields]):
        yield batch, split[done : done + len(batch)]
        done += len(batch)


def shard_split(split_path: str | os.PathLike, ids: Sequence[str], offset: int) -> np.ndarray:
    """The split of rows ``offset .. offset + len(ids)`` of the merged table, read a row
    group at a time; checks that the split lists exactly these ids there.

    Raises
    ------
    DataError
        If the split file is unreadable or was made for other reviews.
    """
    if not Path(split_path).is_file():
        raise DataError("no such file; run the split stage first", where=split_path)
    parts_ids, parts_split, position = [], [], 0
    try:
        split_file = pq.ParquetFile(split_path)
        for batch in split_file.iter_batches(columns=["unique_id", "split"]):
            low, high = max(offset - position, 0), min(offset + len(ids) - position, len(batch))
            if low < high:
                parts_ids += batch["unique_id"].slice(low, high - low).to_pylist()
                parts_split += batch["split"].slice(low, high - low).to_pylist()
            position += len(batch)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read the split: {exc}", where=split_path) from exc
    if parts_ids != list(ids) or not set(parts_split) <= set(SPLIT_NAMES):
        raise DataError(
            "the split does not list exactly the reviews of the table; rerun the split stage",
            where=split_path,
        )
    return np.array(parts_split, dtype=object)


def _n_training(split_path: str | os.PathLike) -> int:
    try:
        split = pq.read_table(split_path, columns=["split"])["split"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read the split: {exc}", where=split_path) from exc
    return int(pc.sum(pc.equal(split, "train")).as_py() or 0)


def shard_counts(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
):
    """The term counts (or hashed-column counts) of one shard's training reviews."""

    def documents():
        for reviews, split in shard_batches(reviews_path, split_path, shard, fields):
            yield from map(vectorizer.tokenizer, document_texts(reviews[split == "train"], fields))

    if vectorizer.hashing is None:
        return count_terms(documents())
    return vectorizer.count_hashed(documents())


def count_stage(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    out: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Count the terms (or hashed columns) of the training reviews of one shard."""
    counts = shard_counts(reviews_path, shard, split_path, vectorizer, fields)
    if vectorizer.hashing is None:
        write_term_counts(counts, out)
    else:
        counts.save(out)
    log.info("shard %d: counted %d training reviews -> %s", shard, counts.n_documents, out)


def merge_counts_stage(
    counts: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    vectorizer: Vectorizer,
    reviews_path: str | os.PathLike | None = None,
    split_path: str | os.PathLike | None = None,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Add the shards' counts; write the vocabulary TSV (or, hashed, the column counts).

    Without ``counts`` (a domain of one shard) the training reviews of ``reviews_path``
    are counted here: one job instead of two, the same file.
    """
    if not counts:
        parts = [shard_counts(reviews_path, 0, split_path, vectorizer, fields)]
    elif vectorizer.hashing is None:
        parts = [read_term_counts(path) for path in counts]
    else:
        from logreg.data.reviews.hashing import HashedCounts

        parts = [HashedCounts.load(path) for path in counts]
    if vectorizer.hashing is not None:
        merged = type(parts[0]).merge(parts)
        merged.save(out)
        log.info("hashed counts of %d training reviews -> %s", merged.n_documents, out)
        return
    merged = merge_term_counts(parts)
    vocabulary = select_vocabulary(merged, vectorizer.min_count, vectorizer.max_size)
    if len(vocabulary) == 0:
        raise ConfigError(
            "text.min_count",
            f"no term occurs in {vectorizer.min_count} or more of the "
            f"{merged.n_documents} training reviews; lower it",
        )
    write_vocabulary_tsv(vocabulary, out)
    log.info(
        "vocabulary of %d terms from %d training reviews -> %s",
        len(vocabulary),
        merged.n_documents,
        out,
    )


def fitted_vectorizer(
    vectorizer: Vectorizer, vocabulary_path: str | os.PathLike, split_path: str | os.PathLike
) -> Vectorizer:
    """``vectorizer`` with the merged vocabulary (or hashed counts) of the training reviews."""
    if vectorizer.hashing is not None:
        from logreg.data.reviews.hashing import HashedCounts

        return vectorizer.set_hashed_counts(HashedCounts.load(vocabulary_path))
    return set_vocabulary_file(vectorizer, vocabulary_path, n_documents=_n_training(split_path))


def shard_vectors(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> tuple[dict, dict]:
    """``(X, y)`` of one shard's rows, each a dict by split, with a fitted vectorizer."""
    X = {name: [] for name in SPLITS}
    y = {name: [] for name in SPLITS}
    for reviews, split in shard_batches(reviews_path, split_path, shard, fields):
        for name in SPLITS:
            rows = reviews[split == name]
            X[name].append(vectorizer.transform(document_texts(rows, fields)))
            y[name].append(rows["label"].to_numpy(dtype=np.int64))
    X = {name: stack_rows(X[name], vectorizer.n_features) for name in SPLITS}
    y = {name: np.concatenate([np.zeros(0, np.int64), *y[name]]) for name in SPLITS}
    return X, y


def vectorize_shard_stage(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    vocabulary_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Vectors of one shard's rows of each split (``X_<split>.npz``, ``y_<split>.npy``) in
    ``out_dir``."""
    vectorizer = fitted_vectorizer(vectorizer, vocabulary_path, split_path)
    X, y = shard_vectors(reviews_path, shard, split_path, vectorizer, fields)
    with atomic_dir(out_dir) as tmp:
        for name in SPLITS:
            sp.save_npz(tmp / f"X_{name}.npz", X[name], compressed=False)
            np.save(tmp / f"y_{name}.npy", y[name])
    log.info("shard %d: %d reviews vectorized -> %s", shard, sum(map(len, y.values())), out_dir)


def gather_stage(
    parts: Sequence[str | os.PathLike],
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    vocabulary_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    domain: str,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Stack the shards' vectors of each split into the domain's prepared folder.

    Without ``parts`` (a domain of one shard) the reviews are vectorized here: one job
    instead of two, the same folder.
    """
    vectorizer = fitted_vectorizer(vectorizer, vocabulary_path, split_path)
    try:
        sources = json.loads(reviews_metadata(reviews_path)[_SOURCES_KEY])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"not a reviews table of the parse stage: {exc}", where=reviews_path
        ) from exc
    if not parts:
        X, y = shard_vectors(reviews_path, 0, split_path, vectorizer, fields)
        write_prepared(out_dir, domain, vectorizer, X, y, sources, fields)
        log.info("wrote the prepared dataset of %s to %s", domain, out_dir)
        return
    X, y = {}, {}
    for name in SPLITS:
        blocks, labels = [], []
        for part in parts:
            try:
                blocks.append(sp.load_npz(Path(part) / f"X_{name}.npz"))
                labels.append(np.load(Path(part) / f"y_{name}.npy", allow_pickle=False))
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"cannot read the shard's vectors: {exc}", where=part) from exc
        X[name] = stack_rows(blocks, vectorizer.n_features)
        y[name] = np.concatenate(labels)
        log.info("%s %s: %d reviews, %d non-zeros", domain, name, X[name].shape[0], X[name].nnz)
    write_prepared(out_dir, domain, vectorizer, X, y, sources, fields)
    log.info("wrote the prepared dataset of %s to %s", domain, out_dir)


def stack_rows(blocks: Sequence[sp.csr_matrix], n_columns: int) -> sp.csr_matrix:
    """The rows of CSR ``blocks`` one under the other (the arrays a single pass makes)."""
    indptr, nnz = [np.zeros(1, dtype=np.int64)], 0
    for block in blocks:
        indptr.append(block.indptr[1:].astype(np.int64) + nnz)
        nnz += block.nnz
    return sp.csr_matrix(
        (
            np.concatenate([np.zeros(0, np.float32), *(b.data for b in blocks)]),
            np.concatenate([np.zeros(0, np.int32), *(b.indices for b in blocks)]),
            np.concatenate(indptr),
        ),
        shape=(sum(b.shape[0] for b in blocks), n_columns),
    )
