"""Hashed features (text.hashing): the hash, the vectors, the saved vectorizer, top words."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.reviews.__main__ import main as reviews_cli
from logreg.data.reviews.hashing import HashedCounts, hashed_columns, murmurhash3
from logreg.data.reviews.vectorize import Vectorizer
from logreg.errors import ConfigError
from logreg.experiment.text_features import ReviewCorpus, TextOptions

TEXTS = [
    "Great sound, works great. Highly recommend!",
    "It broke after a week; do not buy.",
    "Great value and great battery life",
    "Poor quality, broke, returned it",
    "Works as described, great price",
    "Terrible: the battery died, do not buy",
]
LABELS = np.array([1, 0, 1, 0, 1, 0])


def test_the_hash_is_scikit_learns_murmurhash3():
    sklearn_hash = pytest.importorskip("sklearn.utils").murmurhash3_32
    terms = ["", "a", "ab", "abc", "abcd", "abcde", "café", "don't", "not worth", "中文", "ﬁne"]
    expected = [sklearn_hash(term, positive=True) for term in terms]
    assert murmurhash3(terms).tolist() == expected
    # Fixed values: the same columns on every machine and run (never Python's hash()).
    assert hashed_columns(["great", "broke"], 20).tolist() == [
        sklearn_hash("great", positive=True) % 2**20,
        sklearn_hash("broke", positive=True) % 2**20,
    ]


@pytest.mark.parametrize("weighting", ["counts", "binary", "proportions", "tfidf"])
def test_hashed_vectors_count_each_term_in_its_column(weighting):
    vectorizer = Vectorizer(stopwords=False, min_count=1, weighting=weighting, hashing=10)
    X = vectorizer.fit(TEXTS).transform(TEXTS)
    assert X.shape == (len(TEXTS), 2**10) and X.dtype == np.float32
    terms = vectorizer.tokenizer(TEXTS[0])
    columns = hashed_columns(terms, 10)
    assert set(X[0].indices) == set(columns.tolist())
    if weighting == "counts":
        assert X[0, hashed_columns(["great"], 10)[0]] == terms.count("great") == 2
    if weighting == "tfidf":
        assert np.allclose(np.asarray(X.multiply(X).sum(axis=1)).ravel(), 1.0, atol=1e-6)


def test_min_count_drops_rare_columns_and_df_counts_a_review_once():
    counts = HashedCounts.from_terms([["a", "b", "a"], ["b", "c"], []], n_bits=4)
    a, b, c = hashed_columns(["a", "b", "c"], 4).tolist()
    assert counts.n_documents == 3
    assert (counts.document_frequency[[a, b, c]] == [1, 2, 1]).all()
    assert (counts.count[[a, b, c]] == [2, 2, 1]).all()
    assert [counts.names[i] for i in (a, b, c)] == ["a", "b", "c"]
    vectorizer = Vectorizer(stopwords=False, min_count=2, weighting="counts", hashing=4)
    X = vectorizer.set_hashed_counts(counts).transform(["a b c b"])
    assert X.indices.tolist() == [b] and X.data.tolist() == [2.0]


def test_a_saved_hashed_vectorizer_transforms_the_same_and_names_its_columns(tmp_path):
    vectorizer = Vectorizer(stopwords=True, bigrams=True, min_count=1, hashing=12)
    X = vectorizer.fit(TEXTS).transform(TEXTS)
    vectorizer.save(tmp_path / "vectorizer.json")
    again = Vectorizer.load(tmp_path / "vectorizer.json")
    Y = again.transform(TEXTS)
    assert (X != Y).nnz == 0 and again.feature_names == vectorizer.feature_names
    # Top words: the columns that separate the classes are named by words hashed there.
    weights = np.asarray(X[LABELS == 1].mean(axis=0) - X[LABELS == 0].mean(axis=0)).ravel()
    top = np.argsort(weights)
    best, worst = vectorizer.feature_names[top[-1]], vectorizer.feature_names[top[0]]
    assert best == "great" and worst in {"broke", "buy", "battery"}
    assert hashed_columns([best, worst], 12).tolist() == [top[-1], top[0]]


def test_max_size_needs_a_vocabulary(tmp_path):
    with pytest.raises(ValueError, match=r"max_size=10 needs a vocabulary; with hashing=12"):
        Vectorizer(max_size=10, hashing=12)
    with pytest.raises(ConfigError, match=r"'text.max_size': got 10, but text.hashing=12"):
        reviews_cli(["merge-counts", "--counts", str(tmp_path / "c.npz"), "--out",
                     str(tmp_path / "v"), "--stopwords", "false", "--bigrams", "false",
                     "--fields", "title", "--min-count", "1", "--max-size", "10",
                     "--hashing", "12"])  # fmt: skip


def test_cross_validation_refits_hashed_folds(tmp_path):
    reviews_cli(["demo", "--out-dir", str(tmp_path / "raw"), "--domains", "books", "--seed",
                 "3", "--n-per-file", "40"])  # fmt: skip
    books = tmp_path / "raw" / "books"
    table = tmp_path / "reviews.parquet"
    reviews_cli(["parse", str(books / "positive.review"), str(books / "negative.review"),
                 "--out", str(table)])  # fmt: skip
    meta = {"text": {"fields": ["title", "review_text"], "stopwords": False, "bigrams": True,
                     "min_count": 2, "max_size": None, "weighting": "tfidf",
                     "sublinear_tf": True, "hashing": 10}}  # fmt: skip
    options = TextOptions.from_meta(meta)
    assert options.hashing == 10
    corpus = ReviewCorpus(table, options)
    train, test = np.arange(0, 60), np.arange(60, 80)
    X_train, X_test, vectorizer = corpus.fold(train, test)
    assert X_train.shape == (60, 2**10) and X_test.shape == (20, 2**10)
    assert vectorizer.n_documents == 60
    # Columns seen in fewer than min_count training reviews stay empty in the test fold.
    rare = vectorizer.vocabulary.document_frequency < 2
    assert X_test[:, np.flatnonzero(rare)].nnz == 0 and X_test.nnz > 0
    # A folder made before the option reads as a vocabulary.
    del meta["text"]["hashing"]
    assert TextOptions.from_meta(meta).hashing is None
