"""Hashed features in one pass give the prepared folder of the two-pass stages, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.data.prepared import SPLITS
from logreg.data.reviews import hashed_stage, hashing, parse, shards
from logreg.data.reviews import sharded as sharded_stages
from logreg.data.reviews.__main__ import main as reviews_cli
from logreg.data.reviews.hashing import HashedCounts, hashed_columns
from logreg.data.reviews.vectorize import Vectorizer
from logreg.errors import DataError

SELECT = ["--min-count", "2", "--max-size", "none"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A demo domain parsed and split (240 reviews, some of them non-ASCII)."""
    out = tmp_path_factory.mktemp("books")
    reviews_cli(["demo", "--out-dir", str(out / "raw"), "--domains", "books", "--seed", "7",
                 "--n-per-file", "120"])  # fmt: skip
    books = out / "raw" / "books"
    reviews_cli(["parse", str(books / "positive.review"), str(books / "negative.review"),
                 "--out", str(out / "reviews.parquet")])  # fmt: skip
    reviews_cli(["split", "--reviews", str(out / "reviews.parquet"), "--out",
                 str(out / "split.parquet"), "--test-fraction", "0.2", "--val-fraction", "0.1",
                 "--seed", "2013"])  # fmt: skip
    return out


def data_options(table: Path) -> list[str]:
    return ["--reviews", str(table / "reviews.parquet"), "--split", str(table / "split.parquet")]


def two_pass(table: Path, out: Path, text: list[str], weight: list[str]) -> Path:
    """The hashed stages before the one-pass ones (count, merge counts, vectorize), one shard."""
    reviews_cli(["merge-counts", "--counts", *data_options(table), "--out",
                 str(out / "counts.npz"), *text, *SELECT])  # fmt: skip
    reviews_cli(["gather-vectors", "--parts", *data_options(table), "--vocabulary",
                 str(out / "counts.npz"), "--out-dir", str(out / "prepared"), "--domain",
                 "books", *text, *SELECT, *weight])  # fmt: skip
    return out / "prepared"


def one_pass(table: Path, out: Path, text: list[str], weight: list[str], n_shards: int) -> Path:
    """What reviews.smk runs with text.hashing: K hash-shard jobs (none for one shard), a merge."""
    parts = [str(out / f"hashed{i}") for i in range(n_shards)] if n_shards > 1 else []
    for i, part in enumerate(parts):
        reviews_cli(["hash-shard", *data_options(table), "--shard", str(i), "--out-dir", part,
                     *text])  # fmt: skip
    reviews_cli(["merge-hashed", "--parts", *parts, *data_options(table), "--out-dir",
                 str(out / "prepared"), "--domain", "books", *text, *SELECT,
                 *weight])  # fmt: skip
    return out / "prepared"


def sharded_table(table: Path, out: Path, n_shards: int) -> Path:
    """The demo domain's table with ``n_shards`` shards recorded (the merge of shard parses)."""
    books = table / "raw" / "books"
    files = [str(books / "positive.review"), str(books / "negative.review")]
    tables = [str(out / f"shard{i}.parquet") for i in range(n_shards)]
    for i in range(n_shards):
        reviews_cli(["parse-shard", *files, "--shard", str(i), "--n-shards", str(n_shards),
                     "--out", tables[i]])  # fmt: skip
    reviews_cli(["merge-reviews", *files, "--shards", *tables, "--out",
                 str(out / "reviews.parquet")])  # fmt: skip
    (out / "split.parquet").write_bytes((table / "split.parquet").read_bytes())
    return out


def assert_same_vectors(a: Path, b: Path) -> None:
    for name in SPLITS:
        X, Y = (sp.load_npz(d / f"X_{name}.npz") for d in (a, b))
        assert X.shape == Y.shape and X.nnz > 0 and X.dtype == Y.dtype == np.float32
        for part in ("indptr", "indices", "data"):
            assert getattr(X, part).dtype == getattr(Y, part).dtype, part
            assert getattr(X, part).tobytes() == getattr(Y, part).tobytes(), part
        assert (a / f"y_{name}.npy").read_bytes() == (b / f"y_{name}.npy").read_bytes()


@pytest.mark.parametrize(
    "stopwords, bigrams, weighting, sublinear",
    [
        ("false", "true", "tfidf", "true"),  # the workflow's options
        ("true", "false", "tfidf", "false"),
        ("false", "true", "counts", "false"),
        ("true", "true", "proportions", "true"),
        ("false", "false", "binary", "false"),
    ],
)
def test_one_pass_equals_the_two_pass_stages_bit_for_bit(
    table, tmp_path, stopwords, bigrams, weighting, sublinear
):
    text = ["--stopwords", stopwords, "--bigrams", bigrams, "--fields", "title,review_text",
            "--hashing", "12"]  # fmt: skip
    weight = ["--weighting", weighting, "--sublinear-tf", sublinear]
    old = two_pass(table, tmp_path / "old", text, weight)
    new = one_pass(table, tmp_path / "new", text, weight, n_shards=1)
    assert_same_vectors(old, new)
    for name in ("meta.json", "vectorizer.json"):
        assert (old / name).read_bytes() == (new / name).read_bytes(), name
    assert sorted(p.name for p in new.iterdir()) == sorted(p.name for p in old.iterdir())
    assert list(tmp_path.glob("new/.*")) == []  # the one shard's temporary folder is gone


@pytest.mark.parametrize("block_rows", [100000, 7])
def test_shards_give_the_vectors_of_one_pass(table, tmp_path, monkeypatch, block_rows):
    text = ["--stopwords", "false", "--bigrams", "true", "--fields", "title,review_text",
            "--hashing", "12"]  # fmt: skip
    weight = ["--weighting", "tfidf", "--sublinear-tf", "true"]
    one = one_pass(table, tmp_path / "one", text, weight, n_shards=1)
    # Small batches and blocks: shards start inside row groups, rows weighted 7 at a time.
    for module in (parse, shards, sharded_stages):
        monkeypatch.setattr(module, "BATCH_SIZE", 9)
    monkeypatch.setattr(hashed_stage, "BLOCK_ROWS", block_rows)
    seven_table = sharded_table(table, tmp_path / "table7", 7)
    seven = one_pass(seven_table, tmp_path / "seven", text, weight, n_shards=7)
    assert_same_vectors(one, seven)
    v1, v7 = (Vectorizer.load(d / "vectorizer.json") for d in (one, seven))
    assert v1.n_documents == v7.n_documents == 168
    for field in ("document_frequency", "count"):
        assert np.array_equal(getattr(v1.vocabulary, field), getattr(v7.vocabulary, field))
    # A column's name is the top term of one shard: a term hashed into that column.
    named = [i for i, name in enumerate(v7.feature_names) if name]
    assert named == np.flatnonzero(v1.vocabulary.count).tolist()
    assert hashed_columns([v7.feature_names[i] for i in named], 12).tolist() == named
    meta1, meta7 = (json.loads((d / "meta.json").read_text()) for d in (one, seven))
    del meta1["feature_names"], meta7["feature_names"]
    assert meta1 == meta7


def test_names_beyond_the_sample_fall_back_to_the_first_term_seen(table, tmp_path, monkeypatch):
    text = ["--stopwords", "false", "--bigrams", "true", "--fields", "title,review_text",
            "--hashing", "16"]  # fmt: skip
    weight = ["--weighting", "tfidf", "--sublinear-tf", "true"]
    full = one_pass(table, tmp_path / "full", text, weight, n_shards=1)
    monkeypatch.setattr(hashed_stage, "NAME_SAMPLE", 10)
    sampled = one_pass(table, tmp_path / "sampled", text, weight, n_shards=1)
    assert_same_vectors(full, sampled)  # names never change the vectors
    a, b = (Vectorizer.load(d / "vectorizer.json") for d in (full, sampled))
    assert np.array_equal(a.vocabulary.count, b.vocabulary.count)
    # Every column a training term reached is still named, by a term hashed into it;
    # most by the same term (with 2^16 columns few columns hold two terms).
    named = np.flatnonzero(a.vocabulary.count).tolist()
    names = [b.feature_names[i] for i in named]
    assert all(names) and hashed_columns(names, 16).tolist() == named
    same = sum(a.feature_names[i] == b.feature_names[i] for i in named)
    assert 0.9 * len(named) < same < len(named) + 1


def test_the_merge_prefers_a_counted_name_to_a_fallback_one():
    def counts(names, name_count):
        zeros = np.zeros(4, dtype=np.int64)
        return HashedCounts(2, 1, zeros, zeros, names, np.array(name_count, dtype=np.int64))

    merged = HashedCounts.merge(
        [counts(["a", "", "c", ""], [0, 0, 2, 0]), counts(["x", "y", "z", ""], [3, 0, 1, 0])]
    )
    assert merged.names == ["x", "y", "c", ""]
    assert hashing.NAME_SAMPLE >= 1_400  # the real domains' training reviews: full counts


def test_a_truncated_shard_fails_the_merge_and_writes_nothing(table, tmp_path):
    text = ["--stopwords", "false", "--bigrams", "true", "--fields", "title,review_text",
            "--hashing", "12"]  # fmt: skip
    seven_table = sharded_table(table, tmp_path / "table2", 2)
    parts = [tmp_path / f"hashed{i}" for i in range(2)]
    for i, part in enumerate(parts):
        reviews_cli(["hash-shard", *data_options(seven_table), "--shard", str(i), "--out-dir",
                     str(part), *text])  # fmt: skip
    columns = parts[1] / "train.columns"
    columns.write_bytes(columns.read_bytes()[:-4])
    with pytest.raises(DataError, match="not a complete shard of hash-shard: train.columns has"):
        reviews_cli(["merge-hashed", "--parts", *map(str, parts), *data_options(seven_table),
                     "--out-dir", str(tmp_path / "prepared"), "--domain", "books", *text,
                     *SELECT, "--weighting", "tfidf", "--sublinear-tf", "true"])  # fmt: skip
    assert not (tmp_path / "prepared").exists()
    assert list(tmp_path.glob(".*tmp")) == []
