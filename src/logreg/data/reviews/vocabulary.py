"""Stage 3: the vocabulary, first of the course's two passes over the training reviews.

Pass one counts, for every term of the training reviews, its *document frequency* (the
number of reviews it occurs in) and its total *count*; it keeps the terms with a
document frequency of at least ``min_count`` and orders them by descending document
frequency, then descending count, then the term itself (code-point order), so the
result never depends on the order of a dict or of the reviews. ``max_size`` keeps the
first terms of that order. A term's index is its position. Pass two
(:mod:`logreg.data.reviews.vectorize`) turns reviews into vectors over these indices.

The TSV file has a header ``token index document_frequency count`` and one line per
term, tab-separated. Terms never hold a tab or newline (see the tokenizer). It is read
with the ``csv`` module rather than pandas, whose default would turn the words "nan",
"null" or "na" into missing values.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logreg.errors import DataError
from logreg.fileio import atomic_path, write_text_atomic

TSV_HEADER = ("token", "index", "document_frequency", "count")
_N_DOCUMENTS = b"logreg.n_documents"


@dataclass
class Vocabulary:
    """Terms in index order with their training statistics.

    Attributes
    ----------
    tokens : list of str, length n_terms
    document_frequency : ndarray of int64, shape (n_terms,)
        Number of training reviews holding the term.
    count : ndarray of int64, shape (n_terms,)
        Occurrences of the term in all training reviews.
    """

    tokens: list[str]
    document_frequency: np.ndarray
    count: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class TermCounts:
    """Every term of some training reviews with its counts, before any term is dropped.

    What one shard of a domain contributes to the vocabulary: the counts of all shards,
    added term by term (:func:`merge_term_counts`), are those of a single pass.

    Attributes
    ----------
    tokens : list of str, length n_terms
        In order of first occurrence.
    document_frequency, count : ndarray of int64, shape (n_terms,)
    n_documents : int
        Number of reviews counted.
    """

    tokens: list[str]
    document_frequency: np.ndarray
    count: np.ndarray
    n_documents: int

    def to_arrow(self) -> pa.Table:
        return pa.table(
            {
                "token": pa.array(self.tokens, pa.string()),
                "document_frequency": self.document_frequency,
                "count": self.count,
            }
        )


def count_terms(documents: Iterable[list[str]], batch_size: int = 4096) -> TermCounts:
    """Count each term's document frequency and occurrences in tokenized documents.

    Terms are numbered as they first occur (a dict, whose lookups run in C through
    ``map``) and counted with ``numpy.bincount``, ``batch_size`` documents at a time so
    the memory is that of the distinct terms, not of all occurrences.
    """
    index: dict[str, int] = defaultdict(itertools.count().__next__)
    number = index.__getitem__
    document_frequency = np.zeros(0, dtype=np.int64)
    count = np.zeros(0, dtype=np.int64)
    n_documents = 0
    for batch in batches(documents, batch_size):
        ids, unique_ids = [], []
        for terms in batch:
            numbers = list(map(number, terms))
            ids += numbers
            unique_ids += set(numbers)
        n_documents += len(batch)
        size = len(index)
        count = _grow(count, size) + np.bincount(np.array(ids, dtype=np.int64), minlength=size)
        document_frequency = _grow(document_frequency, size) + np.bincount(
            np.array(unique_ids, dtype=np.int64), minlength=size
        )
    return TermCounts(list(index), document_frequency, count, n_documents)


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([array, np.zeros(size - len(array), dtype=array.dtype)])


def merge_term_counts(parts: Sequence[TermCounts]) -> TermCounts:
    """The counts of the union of the documents of ``parts`` (each counted once)."""
    table = pa.concat_tables(part.to_arrow() for part in parts)
    merged = table.group_by("token", use_threads=False).aggregate(
        [("document_frequency", "sum"), ("count", "sum")]
    )
    return TermCounts(
        tokens=merged["token"].to_pylist(),
        document_frequency=merged["document_frequency_sum"].to_numpy().astype(np.int64),
        count=merged["count_sum"].to_numpy().astype(np.int64),
        n_documents=sum(part.n_documents for part in parts),
    )


def select_vocabulary(counts: TermCounts, min_count: int = 1, max_size: int | None = None):
    """The vocabulary of ``counts``: terms in ``min_count`` or more documents, in the order
    of the module docstring, the first ``max_size`` of them."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be >= 1 or None, got {max_size}")
    table = counts.to_arrow()
    table = table.filter(pc.greater_equal(table["document_frequency"], min_count))
    # Arrow compares strings byte by byte: for UTF-8 that is code-point order, Python's.
    order = pc.sort_indices(
        table,
        sort_keys=[
            ("document_frequency", "descending"),
            ("count", "descending"),
            ("token", "ascending"),
        ],
    )
    table = table.take(order[:max_size])
    return Vocabulary(
        tokens=table["token"].to_pylist(),
        document_frequency=table["document_frequency"].to_numpy().astype(np.int64),
        count=table["count"].to_numpy().astype(np.int64),
    )


def build_vocabulary(
    documents: Iterable[list[str]], min_count: int = 1, max_size: int | None = None
) -> Vocabulary:
    """Count the terms of tokenized training documents and keep the frequent ones.

    Parameters
    ----------
    documents : iterable of list of str
        Each training review as the list of its terms (see
        :class:`~logreg.data.reviews.tokenize.Tokenizer`).
    min_count : int, default 1
        Keep terms occurring in at least this many documents.
    max_size : int or None
        Keep at most this many terms (the most frequent; see the module docstring).

    Returns
    -------
    Vocabulary
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be >= 1 or None, got {max_size}")
    return select_vocabulary(count_terms(documents), min_count, max_size)


def write_term_counts(counts: TermCounts, path: str | os.PathLike) -> None:
    """Write one shard's counts as Parquet (atomically), ``n_documents`` in its metadata."""
    table = counts.to_arrow()
    table = table.replace_schema_metadata({_N_DOCUMENTS: str(counts.n_documents).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_term_counts(path: str | os.PathLike) -> TermCounts:
    """Read a file written by :func:`write_term_counts`."""
    try:
        table = pq.read_table(path)
        n_documents = int(table.schema.metadata[_N_DOCUMENTS])
    except (OSError, pa.ArrowInvalid, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"not a term-counts file of the count stage: {exc}", where=path) from exc
    return TermCounts(
        tokens=table["token"].to_pylist(),
        document_frequency=table["document_frequency"].to_numpy().astype(np.int64),
        count=table["count"].to_numpy().astype(np.int64),
        n_documents=n_documents,
    )


def write_vocabulary_tsv(vocabulary: Vocabulary, path: str | os.PathLike) -> None:
    """Write ``vocabulary`` as a TSV file (atomically)."""
    lines = ["\t".join(TSV_HEADER)]
    lines += [
        f"{token}\t{i}\t{df}\t{n}"
        for i, (token, df, n) in enumerate(
            zip(vocabulary.tokens, vocabulary.document_frequency, vocabulary.count)
        )
    ]
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_vocabulary_tsv(path: str | os.PathLike) -> Vocabulary:
    """Read a file written by :func:`write_vocabulary_tsv`, checking every line.

    Raises
    ------
    DataError
        Naming the file and line of a bad header, field count, number or index.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the vocabulary: {exc}", where=path) from exc
    rows = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, None)
    if header is None or tuple(header) != TSV_HEADER:
        raise DataError(
            f"expected the header {' '.join(TSV_HEADER)} (tab-separated), found {header}",
            where=path,
            line=1,
        )
    tokens, dfs, counts = [], [], []
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(TSV_HEADER):
            raise DataError(
                f"expected {len(TSV_HEADER)} tab-separated fields, found {len(row)}",
                where=path,
                line=lineno,
            )
        token, index, df, n = row
        try:
            index, df, n = int(index), int(df), int(n)
        except ValueError as exc:
            raise DataError(
                f"index, document_frequency and count must be integers: {exc}",
                where=path,
                line=lineno,
            ) from exc
        if index != len(tokens) or not token or df < 1 or n < df:
            raise DataError(
                f"expected term number {len(tokens)} with a non-empty token and "
                f"1 <= document_frequency <= count, found {row}",
                where=path,
                line=lineno,
            )
        tokens.append(token)
        dfs.append(df)
        counts.append(n)
    if len(set(tokens)) != len(tokens):
        raise DataError("a token is listed twice", where=path)
    return Vocabulary(
        tokens=tokens,
        document_frequency=np.array(dfs, dtype=np.int64),
        count=np.array(counts, dtype=np.int64),
    )
