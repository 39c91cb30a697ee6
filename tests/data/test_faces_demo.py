"""The demo FER2013 generator: valid, deterministic, learnable but not trivial."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from logreg.data.faces.csv_reader import read_fer_csv
from logreg.data.faces.demo import make_demo_faces, write_demo_csv
from paths import SRC


def test_same_seed_gives_the_same_bytes_and_another_seed_other_faces(tmp_path):
    write_demo_csv(tmp_path / "a.csv", 60, seed=4)
    write_demo_csv(tmp_path / "b.csv", 60, seed=4)
    write_demo_csv(tmp_path / "c.csv", 60, seed=5)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_demo_csv_is_valid_fer2013_with_every_emotion_in_every_split(tmp_path):
    write_demo_csv(tmp_path / "fer.csv", 1400, seed=2013)
    rows, _ = read_fer_csv(tmp_path / "fer.csv")
    assert rows.pixels.shape == (1400, 2304)
    np.testing.assert_array_equal(np.bincount(rows.usage), [1120, 140, 140])
    for usage in range(3):
        counts = np.bincount(rows.labels[rows.usage == usage], minlength=7)
        assert counts.min() >= 1
        # as in FER2013: Disgust is the rarest emotion, Happy the most common
        assert counts[1] == counts.min() and counts[3] == counts.max()
    # file order like FER2013: all Training rows, then PublicTest, then PrivateTest
    assert np.all(np.diff(rows.usage) >= 0)


def test_a_linear_model_learns_the_demo_faces_well_above_chance_but_not_perfectly():
    from sklearn.linear_model import RidgeClassifier

    pixels, labels, usage = make_demo_faces(1400, np.random.default_rng(2013))
    X = pixels.astype(float)
    X = (X - X[usage == 0].mean(axis=0)) / X[usage == 0].std(axis=0)
    model = RidgeClassifier(alpha=1000).fit(X[usage == 0], labels[usage == 0])
    majority = np.bincount(labels[usage == 2]).max() / np.sum(usage == 2)
    accuracy = model.score(X[usage == 2], labels[usage == 2])
    assert majority < 0.3
    assert 0.45 < accuracy < 0.95


def test_too_few_rows_is_rejected():
    with pytest.raises(ValueError, match="n_rows must be at least 21"):
        make_demo_faces(20, np.random.default_rng(0))


def test_command_line_writes_the_demo_file(tmp_path):
    out = tmp_path / "demo" / "fer2013.csv"
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.data.faces",
            "demo",
            "--out",
            str(out),
            "--n-rows",
            "30",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 31
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.data.faces",
            "demo",
            "--out",
            str(out),
            "--n-rows",
            "3",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "error: --n-rows: expected at least 21" in done.stderr
