"""Hashed features: each term goes to column ``murmurhash3_32(term) mod 2^b``.

No vocabulary is counted, so each shard of a domain is vectorized on its own; only the
per-column document frequencies (for the idf and ``min_count``) are added over the
shards' training reviews, ``2^b`` numbers each. The hash is MurmurHash3 (x86, 32 bits,
seed 0) of the term's UTF-8 bytes, the one scikit-learn's ``HashingVectorizer`` uses
(``sklearn.utils.murmurhash3_32(term, positive=True)``): the same column on every machine
and run, unlike Python's salted ``hash``. It is compiled with numba when numba imports.

A column has no word of its own; the top-words report names it by the term with the most
occurrences hashed into it, in the training reviews of the shard where it had the most
(a bounded reverse map: one term per column and shard, merged by keeping the larger).

The workflow's one-pass stage (:mod:`logreg.data.reviews.hashed_stage`) bounds the cost of
these names: per shard, only its first :data:`NAME_SAMPLE` training reviews are counted
term by term (in Python, :func:`top_terms`; a domain or shard with fewer
training reviews gets the names of a full count); a column no term of that sample reaches
is named by the first term hashed into it in the shard's (ASCII) training reviews, as the
compiled tokenizer meets it, with a name count of 0 (so any counted name wins the merge).
The per-column document frequencies and counts are always those of every training review.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from logreg.data.reviews.vocabulary import batches
from logreg.errors import DataError
from logreg.fileio import atomic_path

#: Training reviews per shard whose terms are counted to name the hashed columns.
NAME_SAMPLE = 5_000


def _murmurhash3(buf, start, end):  # pragma: no cover - compiled
    """MurmurHash3_x86_32 (seed 0) of ``buf[start:end]`` (uint8), as ``uint32``."""
    h = np.uint32(0)
    n_blocks = (end - start) // 4
    for i in range(n_blocks):
        j = start + 4 * i
        k = np.uint32(
            buf[j]
            | (np.uint32(buf[j + 1]) << 8)
            | (np.uint32(buf[j + 2]) << 16)
            | (np.uint32(buf[j + 3]) << 24)
        )
        k = np.uint32(k * np.uint32(0xCC9E2D51))
        k = np.uint32((k << 15) | (k >> 17))
        k = np.uint32(k * np.uint32(0x1B873593))
        h ^= k
        h = np.uint32((h << 13) | (h >> 19))
        h = np.uint32(h * np.uint32(5) + np.uint32(0xE6546B64))
    tail = start + 4 * n_blocks
    k = np.uint32(0)
    rest = end - tail
    if rest >= 3:
        k ^= np.uint32(buf[tail + 2]) << 16
    if rest >= 2:
        k ^= np.uint32(buf[tail + 1]) << 8
    if rest >= 1:
        k ^= np.uint32(buf[tail])
        k = np.uint32(k * np.uint32(0xCC9E2D51))
        k = np.uint32((k << 15) | (k >> 17))
        k = np.uint32(k * np.uint32(0x1B873593))
        h ^= k
    h ^= np.uint32(end - start)
    h ^= h >> 16
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> 13
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> 16
    return h


def _murmurhash3_words(data: np.ndarray, n_words: int) -> np.ndarray:  # pragma: no cover
    """MurmurHash3_x86_32 (seed 0) of each NUL-separated word of ``data`` (uint8)."""
    out = np.empty(n_words, dtype=np.uint32)
    start, word = 0, 0
    for end in range(len(data) + 1):
        if end < len(data) and data[end] != 0:
            continue
        out[word] = _murmurhash3(data, start, end)
        word += 1
        start = end + 1
    return out


def murmurhash3(terms: Sequence[str]) -> np.ndarray:
    """MurmurHash3_x86_32 (seed 0) of each term's UTF-8 bytes, ``uint32`` of shape (n,)."""
    if len(terms) == 0:
        return np.zeros(0, dtype=np.uint32)
    # Terms never hold a NUL (the tokenizer keeps letters, digits and apostrophes).
    data = np.frombuffer("\0".join(terms).encode("utf-8"), dtype=np.uint8)
    return _compiled()(data, len(terms))


@functools.cache
def _compiled():
    # numba is imported (and the loop compiled, or loaded from its cache) only when terms
    # are hashed: the stages without hashing do not pay its ~0.3 s import.
    # The hash of one word is compiled once and shared with the compiled tokenizer
    # (hashed_tokens.py), which calls it as ``hashing._murmurhash3``.
    global _murmurhash3
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency; the loop still runs
        return _murmurhash3_words
    _murmurhash3 = njit(cache=True)(_murmurhash3)
    return njit(cache=True)(_murmurhash3_words)


def hashed_columns(terms: Sequence[str], n_bits: int) -> np.ndarray:
    """The column of each term: ``murmurhash3(term) mod 2^n_bits``, int64."""
    return (murmurhash3(terms) & np.uint32((1 << n_bits) - 1)).astype(np.int64)


class _Numbering(dict):
    """Term -> number in order of first occurrence; lookups of known terms run in C."""

    def __init__(self):
        super().__init__()
        self.tokens: list[str] = []

    def __missing__(self, term: str) -> int:
        self[term] = number = len(self.tokens)
        self.tokens.append(term)
        return number


def _top_terms(
    tokens: list[str], term_column: np.ndarray, term_count: np.ndarray, n_columns: int
) -> tuple[list[str], np.ndarray]:
    """Per column its most frequent term (ties: the one numbered first) and its count."""
    order = np.lexsort((-term_count, term_column))
    starts = np.flatnonzero(np.diff(term_column[order], prepend=-1) != 0)
    names, name_count = [""] * n_columns, np.zeros(n_columns, dtype=np.int64)
    for i in order[starts].tolist():
        names[term_column[i]] = tokens[i]
        name_count[term_column[i]] = term_count[i]
    return names, name_count


def top_terms(documents: Iterable[list[str]], n_bits: int) -> tuple[list[str], np.ndarray]:
    """The ``names`` and ``name_count`` of :meth:`HashedCounts.from_terms`, without its
    document frequencies: per column the most frequent term of tokenized ``documents``."""
    numbering = _Numbering()
    ids = np.fromiter(
        map(numbering.__getitem__, itertools.chain.from_iterable(documents)), np.int64
    )
    term_count = np.bincount(ids, minlength=len(numbering.tokens)).astype(np.int64)
    term_column = hashed_columns(numbering.tokens, n_bits)
    return _top_terms(numbering.tokens, term_column, term_count, 1 << n_bits)


@dataclass
class HashedCounts:
    """Per-column counts of some training reviews, and each column's name.

    Attributes
    ----------
    n_bits : int
    n_documents : int
    document_frequency, count : ndarray of int64, shape (2**n_bits,)
    names : list of str, length 2**n_bits
        The most frequent term of each column ("" for a column no term reached).
    name_count : ndarray of int64, shape (2**n_bits,)
        Occurrences of that term where it was counted.
    """

    n_bits: int
    n_documents: int
    document_frequency: np.ndarray
    count: np.ndarray
    names: list[str]
    name_count: np.ndarray

    @classmethod
    def from_terms(
        cls, documents: Iterable[list[str]], n_bits: int, batch_size: int = 4096
    ) -> HashedCounts:
        """Count tokenized documents into ``2**n_bits`` hashed columns.

        Each distinct term is hashed once (terms are numbered as they first occur); a
        review counts once in a column's document frequency, even if two of its terms
        share the column.
        """
        n_columns = 1 << n_bits
        numbering = _Numbering()
        number = numbering.__getitem__
        term_column = np.zeros(0, dtype=np.int64)
        term_count = np.zeros(0, dtype=np.int64)
        document_frequency = np.zeros(n_columns, dtype=np.int64)
        n_documents = 0
        for batch in batches(documents, batch_size):
            lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
            terms = itertools.chain.from_iterable(batch)
            ids = np.fromiter(map(number, terms), dtype=np.int64, count=int(lengths.sum()))
            new = numbering.tokens[len(term_column) :]
            term_column = np.concatenate([term_column, hashed_columns(new, n_bits)])
            term_count = np.concatenate([term_count, np.zeros(len(new), dtype=np.int64)])
            term_count += np.bincount(ids, minlength=len(term_count))
            rows = np.repeat(np.arange(len(batch), dtype=np.int64), lengths)
            cells = np.unique(rows * n_columns + term_column[ids])
            document_frequency += np.bincount(cells % n_columns, minlength=n_columns)
            n_documents += len(batch)
        count = np.bincount(term_column, weights=term_count, minlength=n_columns)
        names, name_count = _top_terms(numbering.tokens, term_column, term_count, n_columns)
        return cls(
            n_bits, n_documents, document_frequency, count.astype(np.int64), names, name_count
        )

    @classmethod
    def merge(cls, parts: Sequence[HashedCounts]) -> HashedCounts:
        """The counts of the union of the parts' documents; per column the name with the
        larger count (ties: the earlier part), a name rather than none."""
        first = parts[0]
        if any(part.n_bits != first.n_bits for part in parts):
            raise DataError("hashed counts with different numbers of bits; rerun the counts")
        names, name_count = list(first.names), first.name_count.copy()
        for part in parts[1:]:
            for column in np.flatnonzero(part.name_count > name_count).tolist():
                names[column] = part.names[column]
                name_count[column] = part.name_count[column]
            # Fallback names (count 0, see the module docstring) fill columns still unnamed.
            for column, name in enumerate(part.names):
                if name and not names[column]:
                    names[column] = name
        return cls(
            first.n_bits,
            sum(part.n_documents for part in parts),
            np.sum([part.document_frequency for part in parts], axis=0),
            np.sum([part.count for part in parts], axis=0),
            names,
            name_count,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write as ``.npz`` (atomically)."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            n_bits=self.n_bits,
            n_documents=self.n_documents,
            document_frequency=self.document_frequency,
            count=self.count,
            names=np.frombuffer("\n".join(self.names).encode("utf-8"), dtype=np.uint8),
            name_count=self.name_count,
        )
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> HashedCounts:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                names = data["names"].tobytes().decode("utf-8").split("\n")
                counts = cls(
                    int(data["n_bits"]),
                    int(data["n_documents"]),
                    data["document_frequency"].astype(np.int64),
                    data["count"].astype(np.int64),
                    names,
                    data["name_count"].astype(np.int64),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"not hashed counts of the count stage: {exc}", where=path) from exc
        if len(counts.names) != 1 << counts.n_bits:
            raise DataError("hashed counts of the wrong size; rerun the counts", where=path)
        return counts
