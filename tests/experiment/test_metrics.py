"""The metrics logged for every run, checked against scikit-learn and hand counts."""

import numpy as np
import pytest
from sklearn import metrics as skm

from logreg.experiment import metrics


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    # Rounded scores create ties, the case where a naive ROC goes wrong.
    score = np.round(np.clip(y * 0.3 + rng.normal(0.35, 0.25, size=300), 0, 1), 1)
    return y, score


def test_confusion_matrix_counts_true_rows_predicted_columns():
    cm = metrics.confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])


def test_binary_metrics_match_sklearn(scored):
    y, score = scored
    got = metrics.binary_metrics(y, score, threshold=0.5)
    pred = (score >= 0.5).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["sensitivity"] == got["recall"]
    assert got["specificity"] == pytest.approx(tn / (tn + fp))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, score))


def test_roc_curve_matches_sklearn_with_ties(scored):
    y, score = scored
    fpr, tpr, thresholds = metrics.roc_curve(y, score)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert np.all(np.diff(thresholds) < 0)


def test_auc_is_nan_with_one_class_and_precision_zero_when_nothing_predicted():
    assert np.isnan(metrics.roc_auc(np.ones(5), np.linspace(0, 1, 5)))
    got = metrics.binary_metrics(np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3]), 0.9)
    assert got["precision"] == 0.0 and got["f1"] == 0.0 and got["specificity"] == 1.0


def test_best_f1_threshold_beats_fixed_half_on_shifted_scores():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=2000)
    # A model whose probabilities are all shifted low: 0.5 predicts almost nothing.
    proba = np.clip(0.05 + 0.3 * y + rng.normal(0, 0.08, size=2000), 0, 1)
    threshold = metrics.best_f1_threshold(y, proba)
    assert 0.1 < threshold < 0.4
    tuned = metrics.binary_metrics(y, proba, threshold)["f1"]
    fixed = metrics.binary_metrics(y, proba, 0.5)["f1"]
    assert tuned > 0.9 > fixed


def test_multiclass_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, size=500)
    logits = rng.normal(size=(500, 4)) + 1.5 * np.eye(4)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = ["a", "b", "c", "d"]
    got = metrics.multiclass_metrics(y, proba, names)
    pred = proba.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    per_class_recall = skm.recall_score(y, pred, average=None)
    assert [got[f"recall_{n}"] for n in names] == pytest.approx(list(per_class_recall))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
