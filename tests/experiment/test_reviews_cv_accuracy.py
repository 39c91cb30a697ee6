"""The review experiment on the real data under its default protocol: nested CV.

5-fold x 2 repeated stratified CV, every fold's vocabulary and idf fitted on its training
part, l2 chosen per fold by inner 3-fold CV along a warm-started path. A tuned
scikit-learn baseline (tf-idf uni+bigrams, sublinear tf, C tuned on the same folds)
reaches 0.8815 on electronics and 0.9018 on kitchen (issue #13).
"""

from __future__ import annotations

import pytest
from reviews_data import prepare_domain

from logreg.experiment.config import compose
from logreg.experiment.run import train
from paths import SHARED_DATA

REAL_REVIEWS = SHARED_DATA / "sentiment" / "sorted_data_acl"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (REAL_REVIEWS / "electronics" / "positive.review").is_file(),
        reason=f"real reviews not found in {REAL_REVIEWS}",
    ),
]


@pytest.mark.parametrize(
    ("domain", "floor"), [("electronics", 0.88), ("kitchen_&_housewares", 0.90)]
)
def test_default_review_experiment_reaches_the_tuned_baseline_under_cv(tmp_path, domain, floor):
    prepare_domain(REAL_REVIEWS, tmp_path, "real", domain)
    cfg = compose(
        [
            "experiment=reviews",
            f"paths.results_dir={tmp_path}",
            "dataset.source=real",
            f"dataset.domain='{domain}'",
            "tracking=none",
            "progress=false",
        ]
    )
    assert (cfg.evaluation.name, cfg.selection.name) == ("cv", "cv_path")
    assert (cfg.evaluation.n_splits, cfg.evaluation.n_repeats) == (5, 2)
    row = train(cfg, tmp_path / "run")
    assert row["cv_folds"] == 10
    assert row["test_accuracy_mean"] >= floor
    assert row["test_accuracy_ci_low"] < row["test_accuracy_mean"] < row["test_accuracy_ci_high"]
    assert row["test_accuracy_ci_high"] - row["test_accuracy_ci_low"] < 0.06
