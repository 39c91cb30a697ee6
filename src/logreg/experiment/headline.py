"""The answer of a run in a few numbers, under names that sort and read first.

Every run carries, in ``metrics.json``, the summary and MLflow alike:

- ``accuracy``: the estimate of the run's evaluation protocol: the cross-validated mean
  under ``evaluation=cv``, the accuracy on the held-out test split under ``holdout``
  (``test_accuracy_mean`` either way, see :mod:`logreg.experiment.protocol`);
- ``accuracy_ci_low``, ``accuracy_ci_high``: its interval (corrected t over folds, or the
  percentile bootstrap over test examples; ``evaluation.confidence``, 95 % by default);
- ``f1`` (binary F1, macro F1 for several classes) and ``auc`` (ROC AUC, one-vs-rest macro
  for several classes), estimated like ``accuracy``;
- ``l1`` / ``l2``: the strength of the penalty the served model was fitted with (chosen by
  the selection path or configured); as MLflow metrics only for an active penalty.

The four scores are rounded to 4 decimals (their intervals are wider than 0.001); the
unrounded values stay in ``test_accuracy_mean`` etc. Per-fold, per-path and per-epoch
values are MLflow series under their own prefix (:data:`CV`, :data:`PATH`, :data:`EPOCH`),
so the last fold is never read as the answer; MLflow 3's charts group them by prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The headline scores, in the order a reader wants them.
SCORES = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "auc")
PENALTIES = ("l1", "l2")
#: Prefixes of the MLflow series: step = outer CV fold, grid value of the selection
#: path, training epoch.
CV, PATH, EPOCH = "cv/", "path/", "epoch/"
#: The identity of a run, ahead of its answer in ``metrics.json``.
IDENTITY = (
    "experiment",
    "dataset",
    "data_source",
    "task",
    "model",
    "penalty",
    "l1",
    "l2",
    "solver",
    "selection",
    "evaluation",
)


def _first(row: Mapping[str, object], *keys: str) -> float:
    for key in keys:
        if key in row:
            return float(row[key])
    return float("nan")


def scores(row: Mapping[str, object]) -> dict[str, float]:
    """The headline scores of a run's summary row (see the module docstring).

    ``row`` holds ``test_accuracy_mean`` / ``_ci_low`` / ``_ci_high`` (set by both
    protocols) and the F1 and AUC of the protocol: ``test_f1_mean`` or ``test_macro_f1_mean``
    and ``test_auc_mean`` under CV, ``test_f1`` and ``test_auc`` on the held-out split.
    """
    values = {
        "accuracy": _first(row, "test_accuracy_mean", "test_accuracy"),
        "accuracy_ci_low": _first(row, "test_accuracy_ci_low"),
        "accuracy_ci_high": _first(row, "test_accuracy_ci_high"),
        "f1": _first(row, "test_f1_mean", "test_macro_f1_mean", "test_f1"),
        "auc": _first(row, "test_auc_mean", "test_auc"),
    }
    return {k: round(v, 4) for k, v in values.items()}


def with_headline(row: Mapping[str, object]) -> dict[str, object]:
    """``row`` with its headline scores, ordered identity, answer, then everything else."""
    head = scores(row)
    leading = {k: row[k] for k in IDENTITY if k in row}
    return {**leading, **head, **{k: v for k, v in row.items() if k not in head}}


def mlflow_metrics(row: Mapping[str, object]) -> list[str]:
    """The names of the headline MLflow metrics of ``row``, in logging order: the scores,
    then the strength of each active penalty (a run without penalty has none)."""
    active = [p for p in PENALTIES if float(row.get(p) or 0.0) > 0.0]
    return [*SCORES, *active]


def features(row: Mapping[str, object]) -> str:
    """What the model was fitted on, in a word or two: the face features (``pixels``,
    ``hog``, ``kmeans``, ``hog+kmeans``), the review vectors (``tfidf bigrams``), or the
    generated points' ``coordinates``."""
    if "data.features" in row:
        return str(row["data.features"])
    if "data.text.weighting" in row:
        grams = "bigrams" if row.get("data.text.bigrams") else "unigrams"
        return f"{row['data.text.weighting']} {grams}"
    return "coordinates"
