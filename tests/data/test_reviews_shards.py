"""A domain in shards gives the table, vocabulary and vectors of a single pass, bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from logreg.data.prepared import SPLITS
from logreg.data.reviews import parse, shards
from logreg.data.reviews import sharded as sharded_stages
from logreg.data.reviews.__main__ import main as reviews_cli
from logreg.data.reviews.hashing import HashedCounts, hashed_columns
from logreg.data.reviews.parse import parse_reviews, read_reviews_table
from logreg.data.reviews.shards import shard_count, shard_segments
from logreg.errors import DataError
from paths import REPO

TEXT = ["--stopwords", "false", "--bigrams", "true", "--fields", "title,review_text"]
SELECT = ["--min-count", "2", "--max-size", "none"]
WEIGHT = ["--weighting", "tfidf", "--sublinear-tf", "true"]


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> list[Path]:
    raw = tmp_path_factory.mktemp("raw")
    reviews_cli(["demo", "--out-dir", str(raw), "--domains", "books", "--seed", "7",
                 "--n-per-file", "120"])  # fmt: skip
    return [raw / "books" / "positive.review", raw / "books" / "negative.review"]


def single_pass(files: list[Path], out: Path, hashing: list[str]) -> None:
    """The stages of reviews.smk before sharding: one job each."""
    reviews_cli(["parse", *map(str, files), "--out", str(out / "reviews.parquet")])
    reviews_cli(["split", "--reviews", str(out / "reviews.parquet"), "--out",
                 str(out / "split.parquet"), "--test-fraction", "0.2", "--val-fraction", "0.1",
                 "--seed", "2013"])  # fmt: skip
    if hashing:  # no single-pass command for hashed features: one shard of the sharded ones
        sharded(files, out, 1, hashing)
        return
    reviews_cli(["vocabulary", "--reviews", str(out / "reviews.parquet"), "--split",
                 str(out / "split.parquet"), "--out", str(out / "vocabulary.tsv"),
                 *TEXT, *SELECT])  # fmt: skip
    reviews_cli(["vectorize", "--reviews", str(out / "reviews.parquet"), "--split",
                 str(out / "split.parquet"), "--vocabulary", str(out / "vocabulary.tsv"),
                 "--out-dir", str(out / "prepared"), "--domain", "books", *WEIGHT, *TEXT,
                 *SELECT])  # fmt: skip


def sharded(files: list[Path], out: Path, n_shards: int, hashing: list[str]) -> None:
    """The sharded stages, as the workflow runs them (one call per job); one shard has no
    shard jobs, the merges do the work."""
    shards = range(n_shards) if n_shards > 1 else []
    tables = [str(out / f"shard{i}.parquet") for i in shards]
    for i in shards:
        reviews_cli(["parse-shard", *map(str, files), "--shard", str(i), "--n-shards",
                     str(n_shards), "--out", tables[i]])  # fmt: skip
    reviews_cli(["merge-reviews", *map(str, files), "--shards", *tables, "--out",
                 str(out / "reviews.parquet")])  # fmt: skip
    reviews_cli(["split", "--reviews", str(out / "reviews.parquet"), "--out",
                 str(out / "split.parquet"), "--test-fraction", "0.2", "--val-fraction", "0.1",
                 "--seed", "2013"])  # fmt: skip
    counts = [str(out / f"counts{i}.parquet") for i in shards]
    for i in shards:
        reviews_cli(["count-terms", "--reviews", str(out / "reviews.parquet"), "--shard",
                     str(i), "--split", str(out / "split.parquet"), "--out", counts[i], *TEXT,
                     *hashing])  # fmt: skip
    reviews_cli(["merge-counts", "--counts", *counts, "--reviews", str(out / "reviews.parquet"),
                 "--split", str(out / "split.parquet"), "--out", str(out / "vocabulary.tsv"),
                 *TEXT, *SELECT, *hashing])  # fmt: skip
    parts = [str(out / f"vectors{i}") for i in shards]
    for i in shards:
        reviews_cli(["vectorize-shard", "--reviews", str(out / "reviews.parquet"), "--shard",
                     str(i), "--split", str(out / "split.parquet"), "--vocabulary",
                     str(out / "vocabulary.tsv"), "--out-dir", parts[i], *WEIGHT, *TEXT,
                     *SELECT, *hashing])  # fmt: skip
    reviews_cli(["gather-vectors", "--parts", *parts, "--reviews", str(out / "reviews.parquet"),
                 "--split", str(out / "split.parquet"), "--vocabulary",
                 str(out / "vocabulary.tsv"), "--out-dir", str(out / "prepared"), "--domain",
                 "books", *WEIGHT, *TEXT, *SELECT, *hashing])  # fmt: skip


def test_shards_partition_the_reviews_in_file_order(demo_files):
    whole, _ = parse_reviews(demo_files)
    for n_shards in (1, 2, 7, 40):
        lines = []
        for i in range(n_shards):
            for path, segment in shard_segments(demo_files, i, n_shards):
                lines += [(path, line) for line in whole.loc[whole.source_file == path, "line"]
                          if line >= segment.first_line
                          and (segment.end_line is None or line < segment.end_line)]  # fmt: skip
        assert lines == list(zip(whole.source_file, whole.line))
    size = sum(p.stat().st_size for p in demo_files)
    assert shard_count(demo_files, size / 7 / 2**20) == 7
    assert shard_count(demo_files, None) == shard_count(demo_files, 1024) == 1


@pytest.mark.parametrize("hashing", [[], ["--hashing", "12"]], ids=["vocabulary", "hashed"])
@pytest.mark.parametrize(
    "n_shards, batch_size", [(7, 16384), (7, 9), (1, 9)], ids=["7-shards", "7-in-batches", "1"]
)
def test_sharded_stages_equal_a_single_pass_bit_for_bit(
    demo_files, tmp_path, monkeypatch, hashing, n_shards, batch_size
):
    single_pass(demo_files, tmp_path / "one", hashing)
    # Small batches: many row groups per shard, shards starting inside a row group.
    for module in (parse, shards, sharded_stages):
        monkeypatch.setattr(module, "BATCH_SIZE", batch_size)
    sharded(demo_files, tmp_path / "seven", n_shards, hashing)
    one, seven = tmp_path / "one", tmp_path / "seven"
    table, sources = read_reviews_table(one / "reviews.parquet")
    table7, sources7 = read_reviews_table(seven / "reviews.parquet")
    pd.testing.assert_frame_equal(table, table7)
    assert sources == sources7
    assert (one / "split.parquet").read_bytes() == (seven / "split.parquet").read_bytes()
    if hashing:
        # Column counts add up exactly; a column's name is the top term of one shard.
        counts, counts7 = (HashedCounts.load(d / "vocabulary.tsv") for d in (one, seven))
        assert counts.n_documents == counts7.n_documents
        assert np.array_equal(counts.document_frequency, counts7.document_frequency)
        assert np.array_equal(counts.count, counts7.count)
        named = [i for i, name in enumerate(counts7.names) if name]
        assert named == np.flatnonzero(counts.count).tolist()
        assert np.array_equal(hashed_columns([counts7.names[i] for i in named], 12), named)
    else:
        assert (one / "vocabulary.tsv").read_bytes() == (seven / "vocabulary.tsv").read_bytes()
    for name in SPLITS:
        X, X7 = (sp.load_npz(d / "prepared" / f"X_{name}.npz") for d in (one, seven))
        assert X.shape == X7.shape and X.nnz > 0
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(X, part), getattr(X7, part)), part
        assert X.data.tobytes() == X7.data.tobytes()
        assert np.array_equal(*(np.load(d / "prepared" / f"y_{name}.npy") for d in (one, seven)))
    meta, meta7 = (json.loads((d / "prepared" / "meta.json").read_text()) for d in (one, seven))
    assert meta["text"]["hashing"] == (12 if hashing else None)
    if hashing:
        assert len(meta["feature_names"]) == len(meta7["feature_names"]) == 2**12
        del meta["feature_names"], meta7["feature_names"]
    assert meta == meta7
    if not hashing:
        assert (one / "prepared" / "vectorizer.json").read_bytes() == (
            seven / "prepared" / "vectorizer.json"
        ).read_bytes()


def test_a_truncated_shard_fails_at_its_line_and_writes_nothing(demo_files, tmp_path):
    data = demo_files[1].read_bytes()
    cut = data.index(b"<review_text>", len(data) // 2) + 20  # inside a review's text
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "positive.review").write_bytes(demo_files[0].read_bytes())
    (folder / "negative.review").write_bytes(data[:cut])
    files = [folder / "positive.review", folder / "negative.review"]
    with pytest.raises(DataError) as whole:
        parse_reviews(files)
    failed = []
    for i in range(7):
        out = tmp_path / f"shard{i}.parquet"
        try:
            reviews_cli(["parse-shard", *map(str, files), "--shard", str(i), "--n-shards", "7",
                         "--out", str(out)])  # fmt: skip
        except DataError as error:
            failed.append(error)
            assert not out.exists()
    assert [(e.where, e.line, str(e)) for e in failed] == [
        (whole.value.where, whole.value.line, str(whole.value))
    ]
    assert "file ends inside the review" in str(whole.value)
    assert list(tmp_path.glob(".*tmp")) == []


def test_a_review_left_open_at_a_shard_cut_fails_as_in_one_pass(demo_files, tmp_path):
    data = demo_files[0].read_text("utf-8")
    folder = tmp_path / "books"
    folder.mkdir()
    # Remove a </review> in the middle: the next review's <review> line, a shard cut,
    # is where a single pass fails.
    middle = data.index("</review>\n", len(data) // 2)
    (folder / "positive.review").write_text(data[:middle] + data[middle + 10 :], "utf-8")
    (folder / "negative.review").write_bytes(demo_files[1].read_bytes())
    files = [folder / "positive.review", folder / "negative.review"]
    with pytest.raises(DataError) as whole:
        parse_reviews(files)
    errors = set()
    for n_shards in (2, 3, 5, 8, 13):
        for i in range(n_shards):
            try:
                reviews_cli(["parse-shard", *map(str, files), "--shard", str(i), "--n-shards",
                             str(n_shards), "--out", str(tmp_path / "s.parquet")])  # fmt: skip
            except DataError as error:
                errors.add((error.where, error.line, str(error)))
    assert errors == {(whole.value.where, whole.value.line, str(whole.value))}


def test_a_corrupt_shard_table_fails_the_merge_and_keeps_no_output(demo_files, tmp_path):
    tables = [tmp_path / f"shard{i}.parquet" for i in range(2)]
    for i, table in enumerate(tables):
        reviews_cli(["parse-shard", *map(str, demo_files), "--shard", str(i), "--n-shards", "2",
                     "--out", str(table)])  # fmt: skip
    tables[1].write_bytes(tables[1].read_bytes()[:-100])
    proc = subprocess.run(
        [sys.executable, "-m", "logreg.data.reviews", "merge-reviews", *map(str, demo_files),
         "--shards", *map(str, tables), "--out", str(tmp_path / "reviews.parquet")],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"error: {tables[1]}: cannot read the shard table" in proc.stderr
    assert not (tmp_path / "reviews.parquet").exists()
    assert list(tmp_path.glob(".*tmp")) == []


def test_an_id_repeated_in_another_shard_is_named_with_both_places(demo_files, tmp_path):
    text = demo_files[1].read_text("utf-8")
    first_id = demo_files[0].read_text("utf-8").split("<unique_id>\n")[1].split("\n")[0]
    other_id = text.split("<unique_id>\n")[-1].split("\n")[0]
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "positive.review").write_bytes(demo_files[0].read_bytes())
    (folder / "negative.review").write_text(text.replace(other_id, first_id), "utf-8")
    files = [folder / "positive.review", folder / "negative.review"]
    with pytest.raises(DataError) as whole:
        parse_reviews(files)
    tables = [tmp_path / f"shard{i}.parquet" for i in range(3)]
    for i, table in enumerate(tables):
        reviews_cli(["parse-shard", *map(str, files), "--shard", str(i), "--n-shards", "3",
                     "--out", str(table)])  # fmt: skip
    with pytest.raises(DataError) as merged:
        reviews_cli(["merge-reviews", *map(str, files), "--shards", *map(str, tables),
                     "--out", str(tmp_path / "reviews.parquet")])  # fmt: skip
    assert str(merged.value) == str(whole.value)
    assert f"was already used by the review at {files[0]}:1;" in str(whole.value)
