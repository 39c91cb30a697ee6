"""Stages 2-4: split, tokenizer, vocabulary (train only) and vector weightings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from logreg.data.prepared import load_prepared
from logreg.data.reviews.demo import write_demo_data
from logreg.data.reviews.parse import read_reviews_table, write_reviews_table
from logreg.data.reviews.split import split_ids, split_table, stratified_split
from logreg.data.reviews.stages import (
    document_texts,
    parse_stage,
    split_stage,
    vectorize_stage,
    vocabulary_stage,
)
from logreg.data.reviews.tokenize import Tokenizer, bundled_stopwords, normalize
from logreg.data.reviews.vectorize import Vectorizer
from logreg.data.reviews.vocabulary import (
    build_vocabulary,
    read_vocabulary_tsv,
    write_vocabulary_tsv,
)
from logreg.errors import ConfigError, DataError


# -- tokenizer -------------------------------------------------------------------------
def test_normalization_folds_compatibility_forms_case_and_apostrophes():
    assert normalize("ＧＲＥＡＴ ﬁne Don’t") == "great fine don't"


def test_tokens_keep_inner_apostrophes_and_split_on_everything_else():
    tokens = Tokenizer()("Don't buy 'this' product's cable_tie -- 100% caf\ufffd ok\x1agood")
    assert tokens == [
        "don't",
        "buy",
        "this",
        "product's",
        "cable",
        "tie",
        "100",
        "caf",
        "ok",
        "good",
    ]


def test_bundled_stopwords_keep_negations_out():
    stopwords = bundled_stopwords()
    assert 150 <= len(stopwords) <= 180
    assert {"the", "and", "is", "it's"} <= stopwords
    for negation in ("not", "no", "nor", "never", "don't", "isn't", "can't", "won't"):
        assert negation not in stopwords
    assert not any(word.startswith("#") for word in stopwords)


def test_bigrams_join_adjacent_kept_tokens():
    tokenizer = Tokenizer(bundled_stopwords(), bigrams=True)
    assert tokenizer("It is NOT worth the money") == [
        "not",
        "worth",
        "money",
        "not worth",
        "worth money",
    ]
    assert Tokenizer(bigrams=True)("one") == ["one"]


# -- vocabulary ------------------------------------------------------------------------
DOCS = [["good", "good", "cheap"], ["bad", "cheap"], ["good", "zebra"], ["cheap", "nan"]]


def test_vocabulary_counts_documents_and_occurrences_in_a_fixed_order():
    vocabulary = build_vocabulary(DOCS, min_count=1)
    assert vocabulary.tokens == ["cheap", "good", "bad", "nan", "zebra"]
    assert vocabulary.document_frequency.tolist() == [3, 2, 1, 1, 1]
    assert vocabulary.count.tolist() == [3, 3, 1, 1, 1]
    assert build_vocabulary(DOCS[::-1], min_count=1).tokens == vocabulary.tokens


def test_min_count_is_a_document_frequency_and_max_size_keeps_the_most_frequent():
    assert build_vocabulary(DOCS, min_count=2).tokens == ["cheap", "good"]
    assert build_vocabulary(DOCS, min_count=1, max_size=3).tokens == ["cheap", "good", "bad"]
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        build_vocabulary(DOCS, min_count=0)


def test_vocabulary_tsv_round_trips_words_pandas_would_call_missing(tmp_path):
    vocabulary = build_vocabulary(DOCS + [["null", "na", "don't", "not worth"]])
    write_vocabulary_tsv(vocabulary, tmp_path / "v.tsv")
    lines = (tmp_path / "v.tsv").read_text().splitlines()
    assert lines[0] == "token\tindex\tdocument_frequency\tcount"
    assert lines[1] == "cheap\t0\t3\t3"
    again = read_vocabulary_tsv(tmp_path / "v.tsv")
    assert again.tokens == vocabulary.tokens
    assert again.count.tolist() == vocabulary.count.tolist()


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("token\tindex\n", 1, "expected the header"),
        ("token\tindex\tdocument_frequency\tcount\ngood\t0\t2\n", 2, "expected 4 tab-separated"),
        ("token\tindex\tdocument_frequency\tcount\ngood\t0\ttwo\t2\n", 2, "must be integers"),
        ("token\tindex\tdocument_frequency\tcount\ngood\t1\t2\t2\n", 2, "expected term number 0"),
    ],
)
def test_a_broken_vocabulary_file_names_its_line(tmp_path, content, line, message):
    (tmp_path / "v.tsv").write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_vocabulary_tsv(tmp_path / "v.tsv")
    assert info.value.line == line


# -- vectors ---------------------------------------------------------------------------
TRAIN = ["good good cheap", "bad cheap", "good zebra"]


@pytest.mark.parametrize(
    "weighting, expected",
    [
        ("counts", [[2, 1], [0, 0], [0, 1]]),
        ("binary", [[1, 1], [0, 0], [0, 1]]),
        # Lengths count every kept term, in the vocabulary or not: 3, 1 and 4.
        ("proportions", [[2 / 3, 1 / 3], [0, 0], [0, 1 / 4]]),
    ],
)
def test_weightings(weighting, expected):
    vectorizer = Vectorizer(stopwords=False, min_count=2, weighting=weighting).fit(TRAIN)
    assert vectorizer.feature_names == ["good", "cheap"]
    X = vectorizer.transform(["good good cheap", "unknown", "cheap bad zebra novel"])
    assert sp.isspmatrix_csr(X) and X.dtype == np.float32
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-6)


def test_tfidf_matches_the_documented_formula_and_scikit_learn():
    tokenizer = Tokenizer(bundled_stopwords(), bigrams=True)
    train = [
        "Great blender, not worth the price",
        "Not great at all",
        "great great value",
        "The worst blender I have owned",
        "Worth every penny, great value",
    ]
    test = ["great value blender", "nothing known here", "not worth it, worst value"]
    ours = Vectorizer(bigrams=True, min_count=1).fit(train)
    theirs = TfidfVectorizer(
        analyzer=tokenizer, vocabulary=ours.feature_names, smooth_idf=True, norm="l2"
    ).fit(train)
    np.testing.assert_allclose(
        ours.transform(test).toarray(), theirs.transform(test).toarray(), rtol=1e-6
    )
    df = ours.vocabulary.document_frequency
    np.testing.assert_allclose(ours.idf, np.log(6 / (1 + df)) + 1)
    norms = np.linalg.norm(ours.transform(test).toarray(), axis=1)
    np.testing.assert_allclose(norms, [1, 0, 1], rtol=1e-6)


def test_vectorizer_round_trips_through_json(tmp_path):
    vectorizer = Vectorizer(bigrams=True, min_count=1, weighting="tfidf").fit(TRAIN)
    vectorizer.save(tmp_path / "vectorizer.json")
    state = json.loads((tmp_path / "vectorizer.json").read_text())
    assert state["vocabulary"] == vectorizer.feature_names
    assert "not" not in state["tokenizer"]["stopwords"]
    again = Vectorizer.load(tmp_path / "vectorizer.json")
    texts = ["good cheap zebra", "bad bad", ""]
    assert (again.transform(texts) != vectorizer.transform(texts)).nnz == 0
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="not a saved Vectorizer"):
        Vectorizer.load(tmp_path / "bad.json")


def test_vectorizer_checks_its_inputs():
    with pytest.raises(ValueError, match="weighting must be one of"):
        Vectorizer(weighting="idf")
    with pytest.raises(RuntimeError, match="no vocabulary yet"):
        Vectorizer().transform(["x"])
    vocabulary = build_vocabulary([["not good"]])
    with pytest.raises(ValueError, match="'not good' cannot come from this tokenizer"):
        Vectorizer(bigrams=False).set_vocabulary(vocabulary, n_documents=1)
    with pytest.raises(TypeError, match="text number 1 is a float"):
        Vectorizer(min_count=1).fit(["a b", float("nan")])


# -- split -----------------------------------------------------------------------------
def test_split_is_stratified_and_seeded():
    labels = np.array([0] * 100 + [1] * 60)
    split = stratified_split(labels, 0.2, 0.1, np.random.default_rng(7))
    table = pd.crosstab(split, labels)
    assert table.loc["test"].tolist() == [20, 12]
    assert table.loc["val"].tolist() == [10, 6]
    assert table.loc["train"].tolist() == [70, 42]
    again = stratified_split(labels, 0.2, 0.1, np.random.default_rng(7))
    other = stratified_split(labels, 0.2, 0.1, np.random.default_rng(8))
    assert (again == split).all() and (other != split).any()


def test_split_rejects_bad_fractions_and_tiny_classes():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ConfigError, match="split.test_fraction"):
        stratified_split(labels, 1.5, 0.1, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="leaves no training data"):
        stratified_split(labels, 0.6, 0.4, np.random.default_rng(0))
    with pytest.raises(DataError, match="class 0 has only 3 reviews"):
        stratified_split(labels, 0.2, 0.1, np.random.default_rng(0))


# -- the stages together ---------------------------------------------------------------
@pytest.fixture(scope="module")
def prepared_domain(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviews")
    domain = "kitchen_&_housewares"
    write_demo_data(root / "raw", [domain], seed=3, n_per_file=60)
    out = root / "results" / domain
    parse_stage(
        [root / "raw" / domain / "positive.review", root / "raw" / domain / "negative.review"],
        out / "reviews.parquet",
    )
    split_stage(out / "reviews.parquet", out / "split.parquet", 0.2, 0.1, seed=11)
    return domain, out


def test_vocabulary_never_sees_test_reviews(prepared_domain, tmp_path):
    _, out = prepared_domain
    reviews = pd.read_parquet(out / "reviews.parquet")
    split = pd.read_parquet(out / "split.parquet")
    # Plant a word in one test review only: it must not reach the vocabulary.
    test_id = split.loc[split["split"] == "test", "unique_id"].iloc[0]
    reviews.loc[reviews["unique_id"] == test_id, "review_text"] += " zyzzyva zyzzyva"
    _, sources = read_reviews_table(out / "reviews.parquet")
    write_reviews_table(reviews, sources, tmp_path / "reviews.parquet")
    vocabulary_stage(
        tmp_path / "reviews.parquet",
        out / "split.parquet",
        tmp_path / "vocabulary.tsv",
        stopwords=True,
        bigrams=False,
        min_count=1,
        max_size=None,
    )
    vocabulary = read_vocabulary_tsv(tmp_path / "vocabulary.tsv")
    assert "zyzzyva" not in vocabulary.tokens
    train = reviews[(split["split"] == "train").to_numpy()]
    assert vocabulary.document_frequency.max() <= len(train)
    expected = Vectorizer(min_count=1).fit(document_texts(train)).feature_names
    assert vocabulary.tokens == expected


def test_prepared_dataset_is_sparse_labelled_and_reproducible_from_raw_text(
    prepared_domain, tmp_path
):
    domain, out = prepared_domain
    vocabulary_stage(
        out / "reviews.parquet",
        out / "split.parquet",
        tmp_path / "v.tsv",
        stopwords=True,
        bigrams=True,
        min_count=2,
        max_size=300,
    )
    vectorize_stage(
        out / "reviews.parquet",
        out / "split.parquet",
        tmp_path / "v.tsv",
        tmp_path / "prepared",
        domain,
        stopwords=True,
        bigrams=True,
        min_count=2,
        max_size=300,
        weighting="tfidf",
    )
    dataset = load_prepared(tmp_path / "prepared")
    meta = dataset.meta
    assert (meta["kind"], meta["name"]) == ("reviews", domain)
    assert meta["class_names"] == ["negative", "positive"]
    assert meta["feature_names"] == read_vocabulary_tsv(tmp_path / "v.tsv").tokens
    assert len(meta["feature_names"]) == 300 and meta["weighting"] == "tfidf"
    assert sorted(meta["source_files"]) == sorted(
        str(out.parents[1] / "raw" / domain / f"{p}.review") for p in ("positive", "negative")
    )
    sizes = {s: dataset.X[s].shape[0] for s in ("train", "val", "test")}
    assert sizes == {"train": 84, "val": 12, "test": 24}
    for name in ("train", "val", "test"):
        assert sp.isspmatrix_csr(dataset.X[name]) and dataset.X[name].dtype == np.float32
        assert dataset.y[name].dtype.kind == "i" and set(dataset.y[name]) == {0, 1}
    # The saved vectorizer turns the raw test reviews into exactly X_test.
    reviews = pd.read_parquet(out / "reviews.parquet").set_index("unique_id")
    test_ids = split_ids(out / "split.parquet")["test"]  # row i of X_test is test_ids[i]
    texts = document_texts(reviews.loc[test_ids])
    vectorizer = Vectorizer.load(tmp_path / "prepared" / "vectorizer.json")
    assert (vectorizer.transform(texts) != dataset.X["test"]).nnz == 0
    assert dataset.y["test"].tolist() == reviews.loc[test_ids, "label"].tolist()


def test_vectorize_refuses_a_vocabulary_built_with_other_options(prepared_domain, tmp_path):
    domain, out = prepared_domain
    vocabulary_stage(
        out / "reviews.parquet",
        out / "split.parquet",
        tmp_path / "v.tsv",
        stopwords=True,
        bigrams=True,
        min_count=2,
        max_size=None,
    )
    with pytest.raises(
        DataError,
        match=r"v.tsv: .* cannot come from this tokenizer .*"
        r"Rerun the vocabulary stage",
    ):
        vectorize_stage(
            out / "reviews.parquet",
            out / "split.parquet",
            tmp_path / "v.tsv",
            tmp_path / "prepared",
            domain,
            stopwords=True,
            bigrams=False,
            min_count=2,
            max_size=None,
            weighting="counts",
        )
    assert not (tmp_path / "prepared").exists()
    with pytest.raises(ConfigError, match="text.min_count"):
        vocabulary_stage(
            out / "reviews.parquet",
            out / "split.parquet",
            tmp_path / "w.tsv",
            stopwords=True,
            bigrams=False,
            min_count=10_000,
            max_size=None,
        )


def test_split_table_keys_reviews_by_unique_id():
    reviews = pd.DataFrame({"unique_id": [f"r{i}" for i in range(40)], "label": [0, 1] * 20})
    table = split_table(reviews, 0.2, 0.1, seed=5)
    assert table["unique_id"].tolist() == reviews["unique_id"].tolist()
    names = stratified_split(reviews["label"].to_numpy(), 0.2, 0.1, np.random.default_rng(5))
    assert table["split"].tolist() == names.tolist()
    assert table.equals(split_table(reviews, 0.2, 0.1, seed=5))
