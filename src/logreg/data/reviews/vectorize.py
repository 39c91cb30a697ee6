"""Stage 4: review text -> sparse vectors, the second of the course's two passes.

:class:`Vectorizer` bundles the tokenizer options, the vocabulary and its training
statistics, so the exact transformation used in training can be saved as JSON and
re-applied to raw text later (e.g. by a served model). The weightings, for a review
whose term ``t`` (in the vocabulary) occurs ``c_t`` times:

``counts``
    ``c_t``.
``binary``
    ``1`` if ``c_t > 0``.
``proportions``
    ``c_t / L``, where ``L`` is the number of terms the tokenizer keeps from the review
    (after stop-word removal, bigrams included when enabled, in the vocabulary or not):
    the review's length, as in the course.
``tfidf``
    ``c_t * idf_t`` with the smooth inverse document frequency of the training reviews
    ``idf_t = ln((1 + n) / (1 + df_t)) + 1`` (``n`` training reviews, ``df_t`` of them
    holding ``t``), then every row scaled to unit L2 norm.

With ``sublinear_tf=True`` every count ``c_t`` is first replaced by ``1 + ln(c_t)``
(scikit-learn's ``sublinear_tf``): a word repeated ten times weighs about three times
one occurrence, not ten times.

A review without any vocabulary term is a row of zeros under every weighting.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from logreg.data.reviews import json_text
from logreg.data.reviews.hashing import HashedCounts, hashed_columns
from logreg.data.reviews.tokenize import TOKEN_PATTERN, Tokenizer, bundled_stopwords
from logreg.data.reviews.vocabulary import Vocabulary, batches, build_vocabulary
from logreg.errors import DataError
from logreg.fileio import write_text_atomic

WEIGHTINGS = ("counts", "binary", "proportions", "tfidf")
_FORMAT = "logreg.data.reviews.Vectorizer"
_VERSION = 1


def smooth_idf(document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
    """``ln((1 + n) / (1 + df)) + 1`` for each term, shape ``(n_terms,)``."""
    df = np.asarray(document_frequency, dtype=np.float64)
    return np.log((1.0 + n_documents) / (1.0 + df)) + 1.0


class Vectorizer:
    """Tokenizer options + vocabulary + weighting: raw review text -> CSR float32 rows.

    Parameters
    ----------
    stopwords : bool or iterable of str, default True
        True drops the bundled stop-word list, False keeps every token, an iterable
        gives the stop words to drop.
    bigrams : bool, default False
        Add bigrams of adjacent kept tokens.
    min_count : int, default 2
        Minimum document frequency of a term in the training reviews.
    max_size : int or None, default None
        Keep at most this many terms (most frequent first).
    weighting : {"counts", "binary", "proportions", "tfidf"}, default "tfidf"
        See the module docstring.
    pattern : str
        Regular expression of a word token.
    sublinear_tf : bool, default False
        Replace each count ``c`` by ``1 + ln(c)`` before weighting.
    hashing : int or None, default None
        None: columns are the vocabulary's terms. ``b``: hashed features, ``2**b``
        columns (:mod:`logreg.data.reviews.hashing`); ``min_count`` applies to the
        columns' document frequencies, ``max_size`` must be None.
    """

    def __init__(
        self,
        stopwords: bool | Iterable[str] = True,
        bigrams: bool = False,
        min_count: int = 2,
        max_size: int | None = None,
        weighting: str = "tfidf",
        pattern: str = TOKEN_PATTERN,
        sublinear_tf: bool = False,
        hashing: int | None = None,
    ):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        if hashing is not None and max_size is not None:
            raise ValueError(
                f"max_size={max_size} needs a vocabulary; with hashing={hashing} it must be None"
            )
        if stopwords is True:
            stopwords = bundled_stopwords()
        elif stopwords is False or stopwords is None:
            stopwords = ()
        self.tokenizer = Tokenizer(stopwords=stopwords, bigrams=bigrams, pattern=pattern)
        self.min_count = min_count
        self.max_size = max_size
        self.weighting = weighting
        self.sublinear_tf = bool(sublinear_tf)
        self.vocabulary: Vocabulary | None = None
        self.n_documents: int | None = None
        self.hashing = hashing

    # -- fitting -------------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> Vectorizer:
        """Build the vocabulary (and idf) from training texts; return ``self``."""
        return self.fit_terms(self.tokenizer(_check_text(text, i)) for i, text in enumerate(texts))

    def fit_terms(self, documents: Iterable[list[str]]) -> Vectorizer:
        """:meth:`fit` on documents already split into terms by :attr:`tokenizer`."""
        if self.hashing is not None:
            return self.set_hashed_counts(self.count_hashed(documents))
        documents = list(documents)
        vocabulary = build_vocabulary(documents, self.min_count, self.max_size)
        return self.set_vocabulary(vocabulary, n_documents=len(documents))

    def count_hashed(self, documents: Iterable[list[str]]) -> HashedCounts:
        """The hashed-column counts of tokenized training documents (``hashing`` set)."""
        return HashedCounts.from_terms(documents, self._hashing_bits())

    def set_hashed_counts(self, counts: HashedCounts) -> Vectorizer:
        """Use hashed-column counts of the training reviews (``hashing`` set): columns in
        fewer than ``min_count`` reviews are left out, the idf is that of the columns."""
        if counts.n_bits != self._hashing_bits():
            raise ValueError(f"counts of {counts.n_bits} bits, expected {self.hashing}")
        self.vocabulary = Vocabulary(counts.names, counts.document_frequency, counts.count)
        self.n_documents = int(counts.n_documents)
        self._hashed = counts
        self._kept = counts.document_frequency >= self.min_count
        self._idf = smooth_idf(counts.document_frequency, self.n_documents)
        return self

    def _hashing_bits(self) -> int:
        if self.hashing is None:
            raise RuntimeError("this Vectorizer does not hash its terms (hashing=None)")
        return int(self.hashing)

    def set_vocabulary(self, vocabulary: Vocabulary, n_documents: int) -> Vectorizer:
        """Use a vocabulary built elsewhere (e.g. read from the workflow's TSV).

        Raises ``ValueError`` if it cannot come from this tokenizer: bigrams without
        ``bigrams=True``, or a stop word although stop words are dropped.
        """
        if n_documents < int(vocabulary.document_frequency.max(initial=0)):
            raise ValueError(
                f"n_documents={n_documents} is smaller than a term's document frequency"
            )
        for token in vocabulary.tokens:
            parts = token.split(" ")
            if (
                (len(parts) > 1 and not self.tokenizer.bigrams)
                or len(parts) > 2
                or any(part in self.tokenizer.stopwords for part in parts)
            ):
                raise ValueError(
                    f"vocabulary term {token!r} cannot come from this "
                    f"tokenizer (bigrams={self.tokenizer.bigrams}, "
                    f"{len(self.tokenizer.stopwords)} stop words)"
                )
        self.vocabulary = vocabulary
        self.n_documents = int(n_documents)
        self._index = {token: i for i, token in enumerate(vocabulary.tokens)}
        self._idf = smooth_idf(vocabulary.document_frequency, self.n_documents)
        return self

    def text_options(self) -> dict[str, object]:
        """The options of the workflow config's ``text:`` that this vectorizer applies
        (all but ``fields``), as recorded in a prepared folder's ``meta.json``."""
        return {
            "stopwords": bool(self.tokenizer.stopwords),
            "bigrams": self.tokenizer.bigrams,
            "min_count": self.min_count,
            "max_size": self.max_size,
            "weighting": self.weighting,
            "sublinear_tf": self.sublinear_tf,
            "hashing": self.hashing,
        }

    @property
    def feature_names(self) -> list[str]:
        """Vocabulary terms in column order."""
        return list(self._fitted().tokens)

    @property
    def n_features(self) -> int:
        """Number of columns of the vectors."""
        return len(self._fitted())

    @property
    def idf(self) -> np.ndarray:
        """Smooth idf of each term, shape ``(n_terms,)``."""
        self._fitted()
        return self._idf.copy()

    def _fitted(self) -> Vocabulary:
        if self.vocabulary is None:
            raise RuntimeError(
                "this Vectorizer has no vocabulary yet: call fit() or set_vocabulary() first"
            )
        return self.vocabulary

    # -- transforming --------------------------------------------------------------
    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Vectorize texts; returns CSR float32 of shape ``(n_texts, n_terms)``."""
        return self.transform_terms(
            self.tokenizer(_check_text(text, i)) for i, text in enumerate(texts)
        )

    def transform_terms(
        self, documents: Iterable[list[str]], batch_size: int = 4096
    ) -> sp.csr_matrix:
        """Vectorize documents already split into terms by :attr:`tokenizer`.

        Lets cross-validation tokenize every review once and vectorize it per fold.
        ``batch_size`` documents are looked up and counted at a time (numpy, no loop over
        terms in Python); the values are those of the row-by-row formulas of the module
        docstring, bit for bit (each row's norm is the same ``numpy.dot``).
        """
        parts = [self._transform_batch(batch) for batch in batches(documents, batch_size)]
        n_terms = len(self._fitted())
        if not parts:
            return sp.csr_matrix((0, n_terms), dtype=np.float32)
        indptr = np.concatenate(
            [[0], np.cumsum(np.concatenate([p[2] for p in parts]), dtype=np.int64)]
        )
        return sp.csr_matrix(
            (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                indptr,
            ),
            shape=(len(indptr) - 1, n_terms),
        )

    def _transform_batch(self, documents: list[list[str]]):
        """``(data float32, indices int32, nnz per row)`` of a batch of documents."""
        n_terms = len(self._fitted())
        n_rows = len(documents)
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=n_rows)
        terms = itertools.chain.from_iterable(documents)
        if self.hashing is None:
            columns = np.fromiter(
                map(self._index.get, terms, itertools.repeat(-1)),
                dtype=np.int64,
                count=int(lengths.sum()),
            )
        else:
            columns = hashed_columns(list(terms), self.hashing)
            columns[~self._kept[columns]] = -1
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        known = columns >= 0
        # Sorted (row, column) keys: CSR order, each row's columns ascending.
        keys, counts = np.unique(rows[known] * n_terms + columns[known], return_counts=True)
        rows, columns = np.divmod(keys, n_terms)
        values = self.weigh(rows, columns, counts, lengths)
        row_nnz = np.bincount(rows, minlength=n_rows)
        return values, columns.astype(np.int32), row_nnz

    def weigh(self, rows, columns, counts, lengths) -> np.ndarray:
        """The float32 values of count cells ``(rows, columns, counts)``, sorted by row then
        column, with ``lengths`` the number of terms of each row: sublinear tf, then the
        weighting, then (tf-idf) each row scaled to unit L2 norm. The vectorizer's batches
        and the one-pass hashed stage's blocks (``hashed_stage``) are weighted here."""
        values = counts.astype(np.float64)
        if self.sublinear_tf:
            values = 1.0 + np.log(values)
        if self.weighting == "binary":
            values[:] = 1.0
        elif self.weighting == "proportions":
            values /= lengths.astype(np.int64)[rows]
        elif self.weighting == "tfidf":
            values *= self._idf[columns]
            row_nnz = np.bincount(rows, minlength=len(lengths))
            ends = np.cumsum(row_nnz)
            # Each row's squared norm is one numpy.dot (BLAS) of its cells; the square roots
            # and divisions are correctly rounded, so doing them for all rows at once gives
            # the bits of doing them row by row.
            squares = np.ones(len(lengths))
            for row, (end, nnz) in enumerate(zip(ends.tolist(), row_nnz.tolist())):
                if nnz:
                    cells = values[end - nnz : end]
                    squares[row] = np.dot(cells, cells)
            values /= np.sqrt(squares)[rows]
        return values.astype(np.float32)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """:meth:`fit` then :meth:`transform` the same texts."""
        return self.fit(texts).transform(texts)

    # -- persistence ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything needed to rebuild this vectorizer, as JSON-compatible values."""
        vocabulary = self._fitted()
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "tokenizer": {
                "normalization": "NFKC",
                "lowercase": True,
                "pattern": self.tokenizer.pattern,
                "stopwords": sorted(self.tokenizer.stopwords),
                "bigrams": self.tokenizer.bigrams,
            },
            "min_count": self.min_count,
            "max_size": self.max_size,
            "weighting": self.weighting,
            "sublinear_tf": self.sublinear_tf,
            "hashing": self.hashing,
            "n_documents": self.n_documents,
            "idf": "ln((1 + n_documents) / (1 + document_frequency)) + 1",
            "vocabulary": vocabulary.tokens,
            "document_frequency": vocabulary.document_frequency.tolist(),
            "count": vocabulary.count.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> Vectorizer:
        """Inverse of :meth:`to_dict`."""
        if state.get("format") != _FORMAT or state.get("version") != _VERSION:
            raise ValueError(f"not a {_FORMAT} version {_VERSION} state")
        tok = state["tokenizer"]
        vectorizer = cls(
            stopwords=tok["stopwords"],
            bigrams=tok["bigrams"],
            min_count=state["min_count"],
            max_size=state["max_size"],
            weighting=state["weighting"],
            pattern=tok["pattern"],
            # Absent from files written before the option existed.
            sublinear_tf=state.get("sublinear_tf", False),
            hashing=state.get("hashing"),
        )
        if vectorizer.hashing is not None:
            return vectorizer.set_hashed_counts(
                HashedCounts(
                    n_bits=int(vectorizer.hashing),
                    n_documents=int(state["n_documents"]),
                    document_frequency=np.array(state["document_frequency"], dtype=np.int64),
                    count=np.array(state["count"], dtype=np.int64),
                    names=list(state["vocabulary"]),
                    name_count=np.zeros(1 << int(vectorizer.hashing), dtype=np.int64),
                )
            )
        vocabulary = Vocabulary(
            tokens=list(state["vocabulary"]),
            document_frequency=np.array(state["document_frequency"], dtype=np.int64),
            count=np.array(state["count"], dtype=np.int64),
        )
        return vectorizer.set_vocabulary(vocabulary, state["n_documents"])

    def save(self, path: str | os.PathLike) -> None:
        """Write the vectorizer as JSON (atomically)."""
        write_text_atomic(path, json_text.dumps(self.to_dict(), ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vectorizer:
        """Read a vectorizer written by :meth:`save`."""
        try:
            with open(path, encoding="utf-8") as fh:
                return cls.from_dict(json.load(fh))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", where=path, line=exc.lineno) from exc
        except OSError as exc:
            raise DataError(f"cannot read the vectorizer: {exc.strerror}", where=path) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a saved Vectorizer: {exc}", where=path) from exc

    def __repr__(self) -> str:
        size = "unfitted" if self.vocabulary is None else f"{len(self.vocabulary)} terms"
        return (
            f"Vectorizer({size}, weighting={self.weighting!r}, "
            f"bigrams={self.tokenizer.bigrams}, "
            f"stopwords={len(self.tokenizer.stopwords)})"
        )


def _check_text(text: object, position: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text number {position} is a {type(text).__name__}, not a str")
    return text
