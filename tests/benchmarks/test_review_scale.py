"""benchmarks/review_scale.py: its generated reviews and its scikit-learn peer's split."""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pandas as pd
import pytest

from logreg.data.reviews.__main__ import main as reviews_cli
from logreg.data.reviews.split import split_table
from paths import REPO, SHARED_DATA

pytestmark = pytest.mark.realdata  # the text is recombined from the real reviews

REAL = SHARED_DATA / "sentiment" / "sorted_data_acl"


def _script():
    spec = importlib.util.spec_from_file_location(
        "review_scale", REPO / "benchmarks" / "review_scale.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scale():
    if not REAL.is_dir():
        pytest.skip(f"real reviews not found under {REAL}")
    return _script()


def _digests(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_generated_reviews_are_deterministic_and_parse_as_the_release(scale, tmp_path):
    n = 1_001  # odd: 501 positive, 500 negative
    paths = scale.generate(tmp_path / "a", n, seed=3, domain="big")
    assert [p.name for p in paths] == ["positive.review", "negative.review"]
    assert _digests(paths) == _digests(scale.generate(tmp_path / "b", n, seed=3, domain="big"))
    assert _digests(paths) != _digests(scale.generate(tmp_path / "c", n, seed=4, domain="big"))
    assert not list((tmp_path / "a" / "big").glob("*.tmp"))

    # The project's own parser reads every review, with its label and fields.
    table_path = tmp_path / "reviews.parquet"
    reviews_cli(["parse", *map(str, paths), "--out", str(table_path)])
    table = pd.read_parquet(table_path)
    assert len(table) == n and table["unique_id"].is_unique
    assert (table["label"] == 1).sum() == 501 and (table["label"] == 0).sum() == 500
    assert table["review_text"].str.len().min() > 0 and table["title"].str.len().min() > 0
    # Ratings follow the polarity of the file, as in the release.
    assert table.loc[table["label"] == 1, "rating"].min() >= 4.0
    assert table.loc[table["label"] == 0, "rating"].max() <= 2.0
    # Text the peer sees is the text the parser decodes (title and review text).
    texts, labels = scale.peer_texts(paths)
    assert len(texts) == n and np.array_equal(labels, table["label"].to_numpy())
    assert texts[0] == table["title"][0] + " " + table["review_text"][0]


def test_the_peer_trains_and_tests_on_the_workflows_split(scale):
    labels = np.r_[np.ones(600, dtype=np.int64), np.zeros(401, dtype=np.int64)]
    table = pd.DataFrame({"unique_id": [str(i) for i in range(labels.size)], "label": labels})
    workflow = split_table(table, scale.TEST_FRACTION, scale.VAL_FRACTION, seed=2013)
    np.testing.assert_array_equal(scale.peer_split(labels, 2013), workflow["split"].to_numpy())
