"""The FER2013 HOG softmax on the real data (the feature ladder's second row).

The workflow's own FER2013 experiments (k-means softmax >= 0.55, pixels) are checked on
a run of the whole real-data workflow: tests/workflow/test_real_workflow.py."""

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
