"""The demo review files: the original raw format, seeded, and learnable but not trivial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from logreg.data.reviews.demo import domain_generator, make_domain, write_demo_data
from logreg.data.reviews.parse import parse_reviews
from logreg.data.reviews.records import FIELDS
from logreg.data.reviews.split import stratified_split
from logreg.data.reviews.vectorize import Vectorizer

DOMAINS = ["electronics", "kitchen_&_housewares"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    write_demo_data(root, DOMAINS, seed=2013, n_per_file=150)
    return root


def test_files_have_the_raw_layout_and_quirks_of_the_original(demo_dir):
    text = (demo_dir / "kitchen_&_housewares" / "negative.review").read_text("utf-8")
    lines = text.split("\n")
    assert lines[0] == "<review>" and text.endswith("</review>\n")
    assert text.count("<review>\n") == 150 and "<reviews>" not in text
    # The 11 children, in order, each tag alone on its line.
    tags = [line for line in lines if line.startswith("<") and not line.startswith("</")]
    assert tags[:12] == ["<review>", *(f"<{name}>" for name in FIELDS)]
    assert "\nkitchen & housewares\n" in text
    assert ": Kitchen & Housewares\n" in text
    for quirk in (
        "&quot;",
        "&#45;",
        "&amp;quot;",
        "&lt;",
        "&#174;",
        "\ufffd",
        "<helpful>\n\n</helpful>",
        "<reviewer_location>\n\n</reviewer_location>",
        "\n\n</review_text>",
    ):
        assert quirk in text or quirk in (
            demo_dir / "kitchen_&_housewares" / "positive.review"
        ).read_text("utf-8"), quirk


def test_parsing_returns_exactly_the_generated_reviews(demo_dir):
    for domain in DOMAINS:
        expected = make_domain(domain, 150, domain_generator(2013, domain))
        table, _ = parse_reviews(
            [demo_dir / domain / "negative.review", demo_dir / domain / "positive.review"]
        )
        want = pd.DataFrame(expected["negative"][0] + expected["positive"][0])
        for name in FIELDS:
            got = table[name] if name != "rating" else table[name].map("{:.1f}".format)
            assert got.tolist() == want[name].tolist(), name
        assert "\n\n" in "".join(table["review_text"])
        assert (table["helpful"] == "").any() and (table["reviewer"] == "").any()


def test_same_seed_same_bytes_whatever_other_domains_are_written(demo_dir, tmp_path):
    write_demo_data(tmp_path / "a", ["kitchen_&_housewares"], seed=2013, n_per_file=150)
    write_demo_data(tmp_path / "b", ["kitchen_&_housewares"], seed=2014, n_per_file=150)
    name = Path("kitchen_&_housewares") / "positive.review"
    assert (tmp_path / "a" / name).read_bytes() == (demo_dir / name).read_bytes()
    assert (tmp_path / "b" / name).read_bytes() != (demo_dir / name).read_bytes()


def test_a_linear_model_learns_the_demo_well_above_chance_but_not_perfectly(demo_dir):
    for domain in DOMAINS:
        table, _ = parse_reviews(
            [demo_dir / domain / "negative.review", demo_dir / domain / "positive.review"]
        )
        texts = np.array((table["title"] + "\n" + table["review_text"]).tolist(), dtype=object)
        y = table["label"].to_numpy()
        split = stratified_split(y, 0.2, 0.1, np.random.default_rng(2013))
        vectorizer = Vectorizer().fit(list(texts[split == "train"]))
        model = LogisticRegression(C=1.0).fit(
            vectorizer.transform(list(texts[split == "train"])), y[split == "train"]
        )
        accuracy = model.score(
            vectorizer.transform(list(texts[split == "test"])), y[split == "test"]
        )
        assert 0.75 <= accuracy <= 0.97, (domain, accuracy)


def test_cli_writes_domains_with_an_ampersand(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.data.reviews",
            "demo",
            "--out-dir",
            str(tmp_path),
            "--domains",
            "kitchen_&_housewares",
            "books",
            "--seed",
            "1",
            "--n-per-file",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.review"))
    assert written == [
        "books/negative.review",
        "books/positive.review",
        "kitchen_&_housewares/negative.review",
        "kitchen_&_housewares/positive.review",
    ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.data.reviews",
            "demo",
            "--out-dir",
            str(tmp_path),
            "--domains",
            "x",
            "--seed",
            "1",
            "--n-per-file",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "expected a positive integer, got '0'" in proc.stderr
