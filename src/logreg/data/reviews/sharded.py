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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp

from logreg.data.prepared import SPLITS
from logreg.data.reviews.parse import SHARD_ROWS_KEY, reviews_metadata
from logreg.data.reviews.split import SPLIT_NAMES
from logreg.data.reviews.stages import TEXT_FIELDS, document_texts, write_prepared
from logreg.data.reviews.vectorize import Vectorizer
from logreg.data.reviews.vocabulary import (
    count_terms,
    merge_term_counts,
    read_term_counts,
    read_vocabulary_tsv,
    select_vocabulary,
    write_term_counts,
    write_vocabulary_tsv,
)
from logreg.errors import ConfigError, DataError
from logreg.fileio import atomic_dir

log = logging.getLogger(__name__)

_SOURCES_KEY = b"logreg.source_files"


def shard_reviews(reviews_path: str | os.PathLike, shard: int, fields: Sequence[str]):
    """One shard's rows of the merged table (ids, labels and the text ``fields``), read
    from the row groups that hold them, and the position of its first row."""
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
    groups, first, position = [], None, 0
    for i in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(i).num_rows
        if position < offset + n_rows and position + size > offset:
            groups.append(i)
            first = position if first is None else first
        position += size
    columns = ["unique_id", "label", *fields]
    table = parquet.read_row_groups(groups, columns=columns) if groups else None
    if table is None:
        table = pq.read_schema(reviews_path).empty_table().select(columns)
    else:
        table = table.slice(offset - first, n_rows)
    return table.to_pandas(), offset


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


def count_stage(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    out: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Count the terms (or hashed columns) of the training reviews of one shard."""
    reviews, offset = shard_reviews(reviews_path, shard, fields)
    split = shard_split(split_path, reviews["unique_id"].tolist(), offset)
    texts = document_texts(reviews[split == "train"], fields)
    documents = map(vectorizer.tokenizer, texts)
    if vectorizer.hashing is None:
        write_term_counts(count_terms(documents), out)
    else:
        vectorizer.count_hashed(documents).save(out)
    log.info("shard %d: counted %d training reviews -> %s", shard, len(texts), out)


def merge_counts_stage(
    counts: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    vectorizer: Vectorizer,
) -> None:
    """Add the shards' counts; write the vocabulary TSV (or, hashed, the column counts)."""
    if vectorizer.hashing is not None:
        from logreg.data.reviews.hashing import HashedCounts

        merged = HashedCounts.merge([HashedCounts.load(path) for path in counts])
        merged.save(out)
        log.info("hashed counts of %d training reviews -> %s", merged.n_documents, out)
        return
    merged = merge_term_counts([read_term_counts(path) for path in counts])
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
    vocabulary = read_vocabulary_tsv(vocabulary_path)
    try:
        return vectorizer.set_vocabulary(vocabulary, n_documents=_n_training(split_path))
    except ValueError as exc:
        raise DataError(
            f"{exc}; was the vocabulary built with other text options? Rerun the vocabulary stage",
            where=vocabulary_path,
        ) from exc


def vectorize_shard_stage(
    reviews_path: str | os.PathLike,
    shard: int,
    split_path: str | os.PathLike,
    vocabulary_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    vectorizer: Vectorizer,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Vectors of one shard's rows of each split (``X_<split>.npz``, ``y_<split>.npy``,
    ``ids.json``) in ``out_dir``."""
    reviews, offset = shard_reviews(reviews_path, shard, fields)
    split = shard_split(split_path, reviews["unique_id"].tolist(), offset)
    vectorizer = fitted_vectorizer(vectorizer, vocabulary_path, split_path)
    ids = {}
    with atomic_dir(out_dir) as tmp:
        for name in SPLITS:
            rows = reviews[split == name]
            X = vectorizer.transform(document_texts(rows, fields))
            sp.save_npz(tmp / f"X_{name}.npz", X, compressed=False)
            np.save(tmp / f"y_{name}.npy", rows["label"].to_numpy(dtype=np.int64))
            ids[name] = rows["unique_id"].tolist()
        (tmp / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
    log.info("shard %d: %d reviews vectorized -> %s", shard, len(reviews), out_dir)


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
    """Stack the shards' vectors of each split into the domain's prepared folder."""
    vectorizer = fitted_vectorizer(vectorizer, vocabulary_path, split_path)
    try:
        sources = json.loads(reviews_metadata(reviews_path)[_SOURCES_KEY])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"not a reviews table of the parse stage: {exc}", where=reviews_path
        ) from exc
    X, y, ids = {}, {}, {}
    for name in SPLITS:
        blocks, labels, row_ids = [], [], []
        for part in parts:
            try:
                blocks.append(sp.load_npz(Path(part) / f"X_{name}.npz"))
                labels.append(np.load(Path(part) / f"y_{name}.npy", allow_pickle=False))
                row_ids += json.loads((Path(part) / "ids.json").read_text("utf-8"))[name]
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"cannot read the shard's vectors: {exc}", where=part) from exc
        X[name] = stack_rows(blocks, vectorizer.n_features)
        y[name] = np.concatenate(labels)
        ids[name] = row_ids
        log.info("%s %s: %d reviews, %d non-zeros", domain, name, X[name].shape[0], X[name].nnz)
    write_prepared(out_dir, domain, vectorizer, X, y, ids, sources, fields)
    log.info("wrote the prepared dataset of %s to %s", domain, out_dir)


def stack_rows(blocks: Sequence[sp.csr_matrix], n_columns: int) -> sp.csr_matrix:
    """The rows of CSR ``blocks`` one under the other (the arrays a single pass makes)."""
    indptr = [np.zeros(1, dtype=np.int64)]
    for block in blocks:
        indptr.append(block.indptr[1:].astype(np.int64) + indptr[-1][-1])
    return sp.csr_matrix(
        (
            np.concatenate([b.data for b in blocks]).astype(np.float32),
            np.concatenate([b.indices for b in blocks]).astype(np.int32),
            np.concatenate(indptr),
        ),
        shape=(sum(b.shape[0] for b in blocks), n_columns),
    )
