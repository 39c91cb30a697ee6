"""Review features built per fold, from the raw documents, on the fold's training part.

Under cross-validation the prepared folder's vectors cannot be used: their vocabulary
and idf were counted on one fixed training split, which overlaps every test fold. A
:class:`ReviewCorpus` reads the domain's ``reviews.parquet`` (the parse stage's output,
next to the prepared folder), tokenizes every review once, and for each fold builds the
vocabulary, the idf and the vectors with the data stage's own
:class:`~logreg.data.reviews.vectorize.Vectorizer` fitted on the fold's training part
only: nothing from a test fold reaches its features.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from logreg.data.reviews.parse import CLASS_NAMES, read_reviews_table
from logreg.data.reviews.stages import document_texts
from logreg.data.reviews.vectorize import Vectorizer
from logreg.errors import ConfigError, DataError


@dataclass(frozen=True)
class TextOptions:
    """The text options a prepared review folder was made with (its ``meta.json``
    ``text``): the workflow config's ``text:`` section, their one owner. Cross-validation
    refits each fold's features with exactly these."""

    fields: tuple[str, ...]
    stopwords: bool
    bigrams: bool
    min_count: int
    max_size: int | None
    weighting: str
    sublinear_tf: bool
    hashing: int | None = None

    @classmethod
    def from_meta(cls, meta: dict, where: str | Path = "meta.json") -> TextOptions:
        """The options recorded by the data stage; a folder written before they were all
        recorded must be rebuilt (the workflow does that by itself)."""
        text = dict(meta.get("text") or {})
        text.setdefault("weighting", meta.get("weighting"))
        text.setdefault("hashing", None)  # folders made before the option: a vocabulary
        missing = [f.name for f in fields(cls) if text.get(f.name, "missing") == "missing"]
        if missing or text["weighting"] is None:
            raise DataError(
                f"the prepared reviews do not record the text options {missing or ['weighting']}; "
                "rerun the workflow's data stage",
                where=where,
            )
        return cls(
            fields=tuple(text["fields"]),
            stopwords=bool(text["stopwords"]),
            bigrams=bool(text["bigrams"]),
            min_count=int(text["min_count"]),
            max_size=None if text["max_size"] is None else int(text["max_size"]),
            weighting=str(text["weighting"]),
            sublinear_tf=bool(text["sublinear_tf"]),
            hashing=None if text["hashing"] is None else int(text["hashing"]),
        )

    def vectorizer(self) -> Vectorizer:
        return Vectorizer(
            stopwords=self.stopwords,
            bigrams=self.bigrams,
            min_count=self.min_count,
            max_size=self.max_size,
            weighting=self.weighting,
            sublinear_tf=self.sublinear_tf,
            hashing=self.hashing,
        )


def reviews_table_path(prepared_path: str | Path) -> Path:
    """``<domain>/reviews.parquet`` beside the domain's ``prepared/`` folder."""
    return Path(prepared_path).parent / "reviews.parquet"


class ReviewCorpus:
    """Every labelled review of a domain, tokenized once; vectors per fold.

    Attributes
    ----------
    y : ndarray of int64 of shape (n_reviews,)
    sources : dict of str to str
        The raw files and their sha256, as the parse stage recorded them.
    """

    def __init__(self, reviews_path: str | Path, options: TextOptions):
        reviews, self.sources = read_reviews_table(reviews_path)
        try:
            texts = document_texts(reviews, options.fields)
        except ConfigError as exc:
            raise ConfigError("text.fields", str(exc).split(": ", 1)[1]) from None
        self.options = options
        self.tokenizer = options.vectorizer().tokenizer
        self.terms = [self.tokenizer(text) for text in texts]
        self.y = reviews["label"].to_numpy(dtype=np.int64)
        self.class_names = list(CLASS_NAMES)

    def fold(self, train: np.ndarray, test: np.ndarray):
        """Features of a fold, fitted on ``train`` only.

        Returns
        -------
        X_train : CSR float64 of shape (len(train), n_terms)
        X_test : CSR float64 of shape (len(test), n_terms)
        vectorizer : Vectorizer
            Its vocabulary and idf, counted on the training reviews.
        """
        # A vocabulary (or, with text.hashing, the columns' counts) of the fold's training part.
        vectorizer = self.options.vectorizer().fit_terms(self.terms[i] for i in train)
        X_train = vectorizer.transform_terms(self.terms[i] for i in train)
        X_test = vectorizer.transform_terms(self.terms[i] for i in test)
        return (
            sp.csr_matrix(X_train, dtype=np.float64),
            sp.csr_matrix(X_test, dtype=np.float64),
            vectorizer,
        )
