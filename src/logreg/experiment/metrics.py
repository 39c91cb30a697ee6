"""Classification metrics: confusion matrix, precision/recall/specificity/F1, ROC and AUC.

Written with numpy so that the numbers logged for a run are exactly the ones defined here.
Conventions: class 1 is "positive" for binary problems; a ratio with an empty denominator
(e.g. precision when nothing is predicted positive) is 0, never NaN.
"""

from __future__ import annotations

import numpy as np


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j``; shape (K, K)."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall (= sensitivity), specificity and F1 of each class, shape (K,)."""
    tp = np.diag(cm).astype(float)
    predicted, actual, total = cm.sum(axis=0), cm.sum(axis=1), cm.sum()
    fp, fn = predicted - tp, actual - tp
    tn = total - tp - fp - fn
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    return {
        "precision": precision,
        "recall": recall,
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * precision * recall, precision + recall),
        "support": actual.astype(float),
    }


def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score, highest threshold first.

    Returns ``(fpr, tpr, thresholds)``, each of shape (T + 1,), starting at (0, 0).
    """
    y_true = np.asarray(y_true) == 1
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    score_sorted, y_sorted = np.asarray(score, dtype=float)[order], y_true[order]
    # Keep the last index of each run of tied scores: ties move together on the curve.
    last_of_tie = np.r_[np.flatnonzero(np.diff(score_sorted)), y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    tpr = np.r_[0.0, _ratio(tps, tps[-1] if tps.size else 0)]
    fpr = np.r_[0.0, _ratio(fps, fps[-1] if fps.size else 0)]
    thresholds = np.r_[np.inf, score_sorted[last_of_tie]]
    return fpr, tpr, thresholds


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count one half). NaN if one class only."""
    y_true = np.asarray(y_true) == 1
    if y_true.all() or not y_true.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def best_f1_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability threshold that maximizes F1 (chosen on validation data, never test).

    Predicting positive when ``proba >= threshold``; returns the midpoint between the
    chosen score and the next lower one so the choice does not sit on a data point.
    """
    y_true = np.asarray(y_true) == 1
    fpr, tpr, thresholds = roc_curve(y_true, proba)
    n_pos, n_neg = y_true.sum(), (~y_true).sum()
    tp, fp = tpr * n_pos, fpr * n_neg
    f1 = _ratio(2 * tp, 2 * tp + fp + (n_pos - tp))
    best = int(np.argmax(f1[1:])) + 1  # skip the (0, 0) point with threshold inf
    upper = thresholds[best]
    lower = thresholds[best + 1] if best + 1 < thresholds.size else 0.0
    return float((upper + lower) / 2)


def binary_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall/sensitivity, specificity, F1 at ``threshold``, and AUC."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = (np.asarray(proba) >= threshold).astype(np.int64)
    cm = confusion_matrix(y_true, y_pred, 2)
    scores = per_class_scores(cm)
    return {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "precision": float(scores["precision"][1]),
        "recall": float(scores["recall"][1]),
        "sensitivity": float(scores["recall"][1]),
        "specificity": float(scores["specificity"][1]),
        "f1": float(scores["f1"][1]),
        "auc": roc_auc(y_true, proba),
    }


def multiclass_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names: list[str]
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1/one-vs-rest AUC, per-class precision/recall/F1.

    ``proba`` has shape (n_samples, K); the prediction is its arg-max.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    cm = confusion_matrix(y_true, np.argmax(proba, axis=1), len(class_names))
    scores = per_class_scores(cm)
    out = {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "macro_precision": float(scores["precision"].mean()),
        "macro_recall": float(scores["recall"].mean()),
        "macro_f1": float(scores["f1"].mean()),
        "auc": _mean_finite([roc_auc(y_true == k, proba[:, k]) for k in range(len(class_names))]),
    }
    for k, name in enumerate(class_names):
        for score in ("precision", "recall", "f1"):
            out[f"{score}_{name}"] = float(scores[score][k])
    return out
