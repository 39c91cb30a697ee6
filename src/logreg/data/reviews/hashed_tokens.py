"""Compiled tokenize + hash of ASCII reviews: the hashed columns of a batch in one pass.

For a review whose text is pure ASCII, the tokenizer's steps reduce to byte operations:
NFKC leaves ASCII unchanged and there are no typographic apostrophes, ``str.lower`` maps
``A-Z`` to ``a-z``, and a token of :data:`~logreg.data.reviews.tokenize.TOKEN_PATTERN` is a
maximal run of ``[a-z0-9]`` continued by single inner apostrophes (``don't``, ``a'b'c``;
a leading or trailing apostrophe and ``_`` separate). :func:`hash_batch` does exactly
that in numba: drop stop words, join adjacent kept tokens by one space for bigrams,
MurmurHash3 each term's bytes mod ``2^b``, and count each review's columns (sorted, as a
CSR row). Any other review (one byte >= 0x80: accents, other scripts, NFKC forms, ’) goes
through :class:`~logreg.data.reviews.tokenize.Tokenizer` in Python and is handed to the
kernel as a finished row, so the output is that of the Python path, bit for bit (tests:
``tests/data/test_reviews_hashed_tokens.py``, over every real review).

Both paths also record the first term of the training reviews that reaches a column no
term reached before (the kernel: bytes in an arena, ``\\n``-separated; in a batch, the
Python path's reviews first): the fallback name of a column
(:mod:`logreg.data.reviews.hashing`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logreg.data.reviews import hashing
from logreg.data.reviews.hashing import _murmurhash3, hashed_columns
from logreg.data.reviews.tokenize import TOKEN_PATTERN, Tokenizer

_APOSTROPHE, _SPACE, _NEWLINE = 39, 32, 10


def _is_alnum(c):  # pragma: no cover - compiled
    return (97 <= c <= 122) or (48 <= c <= 57)


def _is_stopword(h, buf, start, end, stop_hashes, stop_offsets, stop_bytes):  # pragma: no cover
    """Whether ``buf[start:end]`` (hash ``h``) is one of the stop words (sorted hashes)."""
    k = np.searchsorted(stop_hashes, h)
    while k < len(stop_hashes) and stop_hashes[k] == h:
        a, b = stop_offsets[k], stop_offsets[k + 1]
        if b - a == end - start:
            same = True
            for i in range(b - a):
                if stop_bytes[a + i] != buf[start + i]:
                    same = False
                    break
            if same:
                return True
        k += 1
    return False


def _grow(array, needed):  # pragma: no cover - compiled
    if needed <= len(array):
        return array
    bigger = np.empty(max(needed, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def _hash_batch(
    data,
    starts,
    ends,
    train,
    pre_row,
    pre_indptr,
    pre_columns,
    pre_counts,
    pre_lengths,
    n_bits,
    bigrams,
    stop_hashes,
    stop_offsets,
    stop_bytes,
    named,
):  # pragma: no cover - compiled
    n_docs = len(starts)
    mask = np.uint32((1 << n_bits) - 1)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    lengths = np.zeros(n_docs, dtype=np.int64)
    columns = np.empty(max(16, len(data) // 2), dtype=np.int32)
    counts = np.empty(len(columns), dtype=np.int32)
    arena = np.empty(1024, dtype=np.uint8)
    name_columns = np.empty(64, dtype=np.int64)
    n_named, used, nnz = 0, 0, 0
    longest = 1
    for d in range(n_docs):
        longest = max(longest, ends[d] - starts[d])
    lower = np.empty(longest, dtype=np.uint8)
    pair = np.empty(2 * longest + 1, dtype=np.uint8)
    token_start = np.empty(longest, dtype=np.int64)
    token_end = np.empty(longest, dtype=np.int64)
    token_hash = np.empty(longest, dtype=np.uint32)
    terms = np.empty(2 * longest + 1, dtype=np.int32)
    for d in range(n_docs):
        if pre_row[d] >= 0:  # tokenized in Python: copy its row
            r = pre_row[d]
            a, b = pre_indptr[r], pre_indptr[r + 1]
            columns = _grow(columns, nnz + b - a)
            counts = _grow(counts, nnz + b - a)
            columns[nnz : nnz + b - a] = pre_columns[a:b]
            counts[nnz : nnz + b - a] = pre_counts[a:b]
            nnz += b - a
            indptr[d + 1] = nnz
            lengths[d] = pre_lengths[r]
            continue
        n = ends[d] - starts[d]
        for i in range(n):
            c = data[starts[d] + i]
            lower[i] = c + 32 if 65 <= c <= 90 else c
        n_tokens, i = 0, 0
        while i < n:
            if not _is_alnum(lower[i]):
                i += 1
                continue
            j = i
            while j < n and _is_alnum(lower[j]):
                j += 1
            while j + 1 < n and lower[j] == _APOSTROPHE and _is_alnum(lower[j + 1]):
                j += 1
                while j < n and _is_alnum(lower[j]):
                    j += 1
            h = _murmurhash3(lower, i, j)
            if not _is_stopword(h, lower, i, j, stop_hashes, stop_offsets, stop_bytes):
                token_start[n_tokens], token_end[n_tokens] = i, j
                token_hash[n_tokens] = h
                n_tokens += 1
            i = j
        n_terms = 0
        for t in range(n_tokens):
            column = token_hash[t] & mask
            terms[n_terms] = column
            n_terms += 1
            if train[d] and not named[column]:
                named[column] = True
                size = token_end[t] - token_start[t]
                arena = _grow(arena, used + size + 1)
                arena[used : used + size] = lower[token_start[t] : token_end[t]]
                arena[used + size] = _NEWLINE
                used += size + 1
                name_columns = _grow(name_columns, n_named + 1)
                name_columns[n_named] = column
                n_named += 1
        if bigrams:
            for t in range(n_tokens - 1):
                size1 = token_end[t] - token_start[t]
                size2 = token_end[t + 1] - token_start[t + 1]
                pair[:size1] = lower[token_start[t] : token_end[t]]
                pair[size1] = _SPACE
                pair[size1 + 1 : size1 + 1 + size2] = lower[token_start[t + 1] : token_end[t + 1]]
                size = size1 + 1 + size2
                column = _murmurhash3(pair, 0, size) & mask
                terms[n_terms] = column
                n_terms += 1
                if train[d] and not named[column]:
                    named[column] = True
                    arena = _grow(arena, used + size + 1)
                    arena[used : used + size] = pair[:size]
                    arena[used + size] = _NEWLINE
                    used += size + 1
                    name_columns = _grow(name_columns, n_named + 1)
                    name_columns[n_named] = column
                    n_named += 1
        lengths[d] = n_terms
        # The row's distinct columns, ascending, with their counts (np.unique's order).
        row = np.sort(terms[:n_terms])
        columns = _grow(columns, nnz + n_terms)
        counts = _grow(counts, nnz + n_terms)
        k = 0
        while k < n_terms:
            m = k + 1
            while m < n_terms and row[m] == row[k]:
                m += 1
            columns[nnz] = row[k]
            counts[nnz] = m - k
            nnz += 1
            k = m
        indptr[d + 1] = nnz
    return (
        indptr,
        columns[:nnz].copy(),
        counts[:nnz].copy(),
        lengths,
        name_columns[:n_named].copy(),
        arena[:used].copy(),
    )


@functools.cache
def _kernel():
    # Imported and compiled (or loaded from numba's cache) on first use only.
    from numba import njit

    hashing._compiled()  # compiles hashing._murmurhash3, the hash of one term
    globals()["_murmurhash3"] = hashing._murmurhash3
    for name in ("_is_alnum", "_is_stopword", "_grow"):
        globals()[name] = njit(cache=True)(globals()[name])
    return njit(cache=True)(_hash_batch)


class HashedTokenizer:
    """Tokenize and hash review texts into ``2**n_bits`` columns, ASCII ones compiled.

    Parameters
    ----------
    tokenizer : Tokenizer
        The Python tokenizer whose output this reproduces (its stop words and bigrams);
        it must use :data:`TOKEN_PATTERN`.
    n_bits : int
    """

    def __init__(self, tokenizer: Tokenizer, n_bits: int):
        if tokenizer.pattern != TOKEN_PATTERN:
            raise ValueError("the compiled tokenizer implements TOKEN_PATTERN only")
        self.tokenizer = tokenizer
        self.n_bits = int(n_bits)
        words = sorted(w.encode("utf-8") for w in tokenizer.stopwords)
        hashes = hashed_columns([w.decode("utf-8") for w in words], 32)
        order = np.argsort(hashes, kind="stable")
        words = [words[i] for i in order]
        self._stop_hashes = hashes[order].astype(np.uint32)
        self._stop_offsets = np.cumsum([0, *map(len, words)], dtype=np.int64)
        self._stop_bytes = np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8)
        #: Columns that already have a fallback name (first training term seen).
        self.named = np.zeros(1 << self.n_bits, dtype=np.bool_)

    def transform(
        self, texts: pa.Array | Sequence[str], train: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[int, str]]]:
        """Hashed term counts of ``texts``.

        Parameters
        ----------
        texts : pyarrow string array or sequence of str, length n
        train : bool ndarray of shape (n,), optional
            The training reviews, whose terms give fallback names.

        Returns
        -------
        indptr : int64 (n + 1,)
        columns : int32 (nnz,)
            Each row's distinct columns, ascending.
        counts : int32 (nnz,)
            Occurrences of the row's terms in each column.
        lengths : int64 (n,)
            Terms of each row (unigrams + bigrams kept by the tokenizer).
        names : list of (column, term)
            Columns first reached in this call, with the first training term there.
        """
        if not isinstance(texts, pa.Array):
            texts = pa.array(list(texts), type=pa.string())
        texts = texts.cast(pa.large_string()) if texts.type != pa.large_string() else texts
        n = len(texts)
        train = np.zeros(n, dtype=np.bool_) if train is None else np.asarray(train, np.bool_)
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[
            texts.offset : texts.offset + n + 1
        ]
        data = texts.buffers()[2]
        data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        ascii_ = pc.fill_null(pc.string_is_ascii(texts), True).to_numpy(zero_copy_only=False)
        others = np.flatnonzero(~ascii_)
        pre_row = np.full(n, -1, dtype=np.int64)
        pre_row[others] = np.arange(len(others))
        python_names = []
        pre = self._python_rows(
            texts.take(pa.array(others)).to_pylist(), train[others], python_names
        )
        indptr, columns, counts, lengths, name_columns, arena = _kernel()(
            data,
            offsets[:-1],
            offsets[1:],
            train,
            pre_row,
            *pre,
            self.n_bits,
            self.tokenizer.bigrams,
            self._stop_hashes,
            self._stop_offsets,
            self._stop_bytes,
            self.named,
        )
        names = arena.tobytes().decode("ascii").split("\n")[:-1] if len(arena) else []
        names = python_names + list(zip(name_columns.tolist(), names))
        return indptr, columns, counts, lengths, names

    def _python_rows(self, texts: list[str], train: np.ndarray, names: list):
        """``(indptr, columns, counts, lengths)`` of non-ASCII texts, by the Python path;
        appends the fallback names their training terms give to ``names``."""
        documents = [self.tokenizer(text) for text in texts]
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        terms = [term for document in documents for term in document]
        term_columns = hashed_columns(terms, self.n_bits)
        rows = np.repeat(np.arange(len(documents), dtype=np.int64), lengths)
        for i in np.flatnonzero(train[rows]).tolist():
            column = int(term_columns[i])
            if not self.named[column]:
                self.named[column] = True
                names.append((column, terms[i]))
        keys, counts = np.unique(rows * (1 << self.n_bits) + term_columns, return_counts=True)
        rows, columns = np.divmod(keys, 1 << self.n_bits)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(documents)))])
        return (
            indptr.astype(np.int64),
            columns.astype(np.int32),
            counts.astype(np.int32),
            lengths,
        )
