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
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from logreg.errors import DataError
from logreg.fileio import write_text_atomic

TSV_HEADER = ("token", "index", "document_frequency", "count")


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
    document_frequency: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for terms in documents:
        count.update(terms)
        document_frequency.update(set(terms))
    kept = [t for t, df in document_frequency.items() if df >= min_count]
    kept.sort(key=lambda t: (-document_frequency[t], -count[t], t))
    kept = kept[:max_size]
    return Vocabulary(
        tokens=kept,
        document_frequency=np.array([document_frequency[t] for t in kept], dtype=np.int64),
        count=np.array([count[t] for t in kept], dtype=np.int64),
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
