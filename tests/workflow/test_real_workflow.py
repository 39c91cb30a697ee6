"""The README's real-data command, run as written (into a temporary results folder): every
experiment on the real reviews and FER2013, and the accuracy each default must reach.

One run of the whole workflow stands for the per-experiment accuracy tests: the review
domains under the default protocol (5-fold x 2 repeated CV, l2 picked by nested inner CV)
and the k-means face softmax (l2 picked on PublicTest, scored on PrivateTest); the HOG
softmax of the feature ladder trains on the HOG features that run prepared. Its wall
time is printed, not asserted (benchmarks/README.md records it on a quiet machine).
"""

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from logreg.experiment.config import compose
from logreg.experiment.run import train
from paths import REPO, SHARED_DATA
from readme import commands

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}"),
]


def real_data_command() -> list[str]:
    (command,) = commands("Running on the real data")
    assert command.startswith(".venv/bin/snakemake ")
    return command.split()


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """The results folder of one run of the README's real-data command."""
    results = tmp_path_factory.mktemp("real-results")
    snakemake = Path(sys.executable).with_name("snakemake")
    argv = [str(snakemake), *real_data_command()[1:], "--config", f"results_dir={results}"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800)
    print(f"real-data workflow: {time.perf_counter() - started:.0f} s")
    assert done.returncode == 0, done.stderr[-4000:]
    return results


def test_the_real_data_command_trains_every_experiment_to_its_accuracy(real_run):
    tmp_path = real_run
    summary = pd.read_csv(tmp_path / "summary" / "real.csv").set_index("dataset")
    assert set(summary["experiment"]) == {
        "reviews",
        "faces_softmax",
        "faces_softmax_pixels",
        "faces_happy_vs_sad",
        "gaussian_clouds",
    }
    reviews = summary[summary["experiment"] == "reviews"]
    # Issue 13's floors, a tuned scikit-learn baseline's level under the same CV
    # (measured: electronics 0.884 [0.862, 0.907], kitchen 0.903 [0.887, 0.919]).
    for domain, floor in (("electronics", 0.88), ("kitchen_&_housewares", 0.90)):
        row = reviews.loc[f"real/{domain}"]
        assert row["test_accuracy_mean"] >= floor, (domain, row["test_accuracy_mean"])
        assert (
            row["test_accuracy_ci_low"] < row["test_accuracy_mean"] < row["test_accuracy_ci_high"]
        )
        assert row["cv_folds"] == 10
    faces = summary[summary["experiment"] == "faces_softmax"].iloc[0]
    # k-means features, flip averaging, 4x4 pooling (issues 14, 20; measured 0.590 on
    # PrivateTest, 0.579 on PublicTest): issue 20's >= 0.58 on PrivateTest with features
    # and l2 chosen on PublicTest.
    assert faces["test_accuracy"] >= 0.58, faces["test_accuracy"]
    assert faces["val_accuracy"] >= 0.57  # not a lucky test split: PublicTest agrees
    assert faces["test_accuracy_ci_low"] < faces["test_accuracy"] < faces["test_accuracy_ci_high"]
    assert "selected_l2" in faces and faces["selected_l2"] > 0
    pixels = summary[summary["experiment"] == "faces_softmax_pixels"].iloc[0]
    assert 0.36 <= pixels["test_accuracy"] < faces["test_accuracy"]
    # The figures a user opens: the k-means centroids and the selection path.
    run = tmp_path / "runs" / "faces_softmax" / "real"
    assert (run / "figures" / "kmeans_centroids.png").is_file()
    assert (run / "figures" / "cv_path.png").is_file()


def test_the_hog_softmax_preset_reaches_045_on_private_test(real_run, tmp_path):
    # The feature ladder's HOG row (faces_softmax_hog, not a workflow experiment), on the
    # HOG features the workflow prepared for faces_happy_vs_sad.
    cfg = compose(
        [
            "experiment=faces_softmax_hog",
            "dataset.source=real",
            f"paths.results_dir={real_run}",
            "tracking=none",
            "progress=false",
        ]
    )
    assert cfg.dataset.features == "hog"
    row = train(cfg, tmp_path / "run")
    # Always answering Happy gets 0.245, softmax on standardized pixels 0.385.
    assert row["test_accuracy"] >= 0.45
    assert row["val_accuracy"] >= 0.45  # not a lucky test split: PublicTest agrees
