"""The FER2013 models on the real data: what the default experiments must reach."""

from __future__ import annotations

import pytest

from logreg.data.faces.prepare import prepare_faces
from logreg.experiment.config import compose
from logreg.experiment.run import train
from paths import SHARED_DATA

REAL_FER = SHARED_DATA / "fer2013" / "fer2013.csv.gz"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_FER.is_file(), reason=f"real FER2013 not found at {REAL_FER}"),
]


def test_default_softmax_experiment_reaches_055_on_private_test(tmp_path):
    # The workflow's data stage and training run, minus MLflow: the same preset, seed, data
    # and k-means parameters (conf/workflow/config.yaml faces.kmeans are KmeansParams' defaults).
    # One prepared folder, one fit: ~1.5 min for the features (170 s of CPU), then 600
    # L-BFGS iterations on 7,200 features (the longest test: minutes even on free cores).
    prepare_faces(REAL_FER, tmp_path / "data/faces/real/kmeans", features="kmeans", seed=2013)
    cfg = compose(
        [
            "experiment=faces_softmax",
            "dataset.source=real",
            f"paths.results_dir={tmp_path}",
            "tracking=none",
            "progress=false",
            "seed=2013",
        ]
    )
    assert cfg.dataset.features == "kmeans"
    row = train(cfg, tmp_path / "run")
    # Measured: 0.5525 (PublicTest 0.5489); HOG features reach 0.462, pixels 0.385
    # (README, the feature ladder).
    assert row["test_accuracy"] >= 0.55
    assert row["val_accuracy"] >= 0.545  # not a lucky test split: PublicTest agrees
    # The run's pictures: per-class region weights, and the centroids of the data stage.
    assert (tmp_path / "run" / "figures" / "weight_images.png").is_file()
    assert (tmp_path / "run" / "figures" / "kmeans_centroids.png").is_file()


def test_hog_softmax_experiment_reaches_045_on_private_test(tmp_path):
    prepare_faces(REAL_FER, tmp_path / "data/faces/real/hog", features="hog", seed=2013)
    cfg = compose(
        [
            "experiment=faces_softmax_hog",
            "dataset.source=real",
            f"paths.results_dir={tmp_path}",
            "tracking=none",
            "progress=false",
            "seed=2013",
        ]
    )
    assert cfg.dataset.features == "hog"
    row = train(cfg, tmp_path / "run")
    # Always answering Happy gets 0.245, softmax on standardized pixels 0.385.
    assert row["test_accuracy"] >= 0.45
    assert row["val_accuracy"] >= 0.45  # not a lucky test split: PublicTest agrees
