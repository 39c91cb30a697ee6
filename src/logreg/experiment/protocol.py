"""Evaluation protocols (``evaluation=holdout|cv``) and penalty selection in a run.

``holdout`` scores the run's model on the prepared test split and adds a percentile
bootstrap interval of the test accuracy. ``cv`` also estimates the whole procedure
(features, penalty selection, fit) by repeated stratified k-fold over every labelled
example: each outer fold's features are fitted on its training part only
(:mod:`logreg.experiment.text_features`), its penalty is chosen by inner CV on that
training part (:mod:`logreg.experiment.selection`), and its test part scores the fit.
Every metric is reported as ``<metric>_mean``, ``_std``, ``_ci_low``, ``_ci_high``
(:func:`logreg.experiment.statistics.cv_interval`); the per-fold values go to
``folds.csv`` and to MLflow as series (``cv/test_<metric>``, step = fold; the path of a
penalty selection as ``path/<name>``, step = grid value).

Under ``cv`` the run's served model is still the one fitted on the prepared training
split (with the penalty its own inner CV picks): ``test_accuracy`` is its holdout score,
``test_accuracy_mean`` the cross-validated estimate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from omegaconf import DictConfig

from logreg.data.prepared import SPLITS, PreparedDataset
from logreg.errors import ConfigError
from logreg.experiment import metrics, plots, selection, statistics
from logreg.experiment.config import build_estimator, path_penalty
from logreg.experiment.headline import CV, PATH
from logreg.experiment.text_features import ReviewCorpus, TextOptions, reviews_table_path
from logreg.fileio import atomic_path
from logreg.linear.model_selection import repeated_stratified_kfold
from logreg.linear.path import largest_l1
from logreg.linear.streamed import StreamedCSR

log = logging.getLogger(__name__)

FIGURES = "figures"
#: The per-fold scores summarized by a CV run (multiclass: macro F1, one-vs-rest macro AUC).
BINARY_METRICS = ("accuracy", "f1", "auc", "loss")
MULTICLASS_METRICS = ("accuracy", "macro_f1", "auc", "loss")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


# -- penalty selection ---------------------------------------------------------------
def select(cfg: DictConfig, X, y: np.ndarray, seed: int, validation=None):
    """Run the configured path on ``(X, y)``; returns a :class:`selection.PathResult`.

    A choice at an end of the grid means the best value may lie beyond it: the grid is
    extended past that end by ``selection.extend_by`` values of the same spacing, at most
    ``selection.max_extensions`` times, until the choice is inside (an L1 path never
    beyond ``l1_max``, where every weight is zero). ``result.edge`` says where it stayed.
    """
    estimator = build_estimator(cfg)
    penalty = path_penalty(cfg)
    s = cfg.selection
    if penalty == "l1":
        top = largest_l1(estimator, X, y)
        values = selection.penalty_grid(top, top * s.l1_ratio, s.n_values)
    else:
        top = np.inf
        values = selection.penalty_grid(s.high, s.low, s.n_values)
    if validation is None:
        _folds("selection.n_splits", y, s.n_splits, 1, seed)  # a clear error first
    for extension in range(s.max_extensions + 1):
        result = selection.select_penalty(
            estimator,
            X,
            y,
            penalty,
            values,
            n_splits=s.n_splits,
            seed=seed,
            one_se=bool(s.one_se),
            validation=validation,
        )
        result.edge = selection.grid_edge(result.values, result.chosen)
        if result.edge is None or extension == s.max_extensions:
            break
        wider = selection.extend_grid(result.values, result.edge, s.extend_by, top)
        if wider.size == result.values.size:
            break
        log.info(
            "selection: %s = %.4g is the %s end of the grid; extending it to %.4g",
            penalty,
            result.chosen,
            "weakest" if result.edge == "low" else "strongest",
            wider.min() if result.edge == "low" else wider.max(),
        )
        values = wider
    if result.edge is not None:
        log.warning(
            "selection: %s = %.4g is still the %s end of the grid after %d extension(s) "
            "(selection.max_extensions): the best value may lie beyond it",
            penalty,
            result.chosen,
            "weakest" if result.edge == "low" else "strongest",
            extension,
        )
    return result


def select_for_run(cfg: DictConfig, estimator, dataset: PreparedDataset, output_dir: Path):
    """``selection=cv_path``: choose the run's penalty on the training split (or on the
    validation split with ``selection.scored_on=val``), set it on ``estimator``, write
    ``selection_path.csv`` and ``figures/cv_path.png``. Returns the result, or None."""
    if cfg.selection.name != "cv_path":
        return None
    validation = (dataset.X["val"], dataset.y["val"]) if cfg.selection.scored_on == "val" else None
    result = select(cfg, dataset.X["train"], dataset.y["train"], cfg.seed, validation)
    estimator.set_params(**{result.penalty: result.chosen})
    scored_by = "validation accuracy" if validation is not None else "inner CV accuracy"
    log.info(
        "selection: %s = %.4g (%s %.4f)",
        result.penalty,
        result.chosen,
        scored_by,
        result.mean.max(),
    )
    frame = pd.DataFrame(
        {
            result.penalty: result.values,
            "accuracy_mean": result.mean,
            "accuracy_std": result.std,
            "nonzero_weights": result.nonzero,
        }
    )
    _write_csv(frame, output_dir / "selection_path.csv")
    (output_dir / FIGURES).mkdir(exist_ok=True)
    plots.penalty_path(
        result.values,
        result.mean,
        result.std,
        result.chosen,
        result.penalty,
        output_dir / FIGURES / "cv_path.png",
        result.nonzero if result.penalty == "l1" else None,
        scored_by,
    )
    return result


def selection_metrics(result) -> tuple[dict[str, float], list[tuple[str, float, int]]]:
    """The chosen value (``selected_<penalty>``) and the path as MLflow series
    (``path/<penalty>``, ``path/accuracy_mean``, ...; step = index on the grid)."""
    row = {
        f"selected_{result.penalty}": result.chosen,
        "selection_path_iterations": result.n_iter,
        "selection_path_values": int(result.values.size),
        # "low" / "high": the choice is an end of the (extended) grid, so not an optimum.
        "selection_edge": result.edge or "",
    }
    series = []
    for step, (value, mean, std, nonzero) in enumerate(
        zip(result.values, result.mean, result.std, result.nonzero)
    ):
        series += [
            (f"{PATH}{result.penalty}", float(value), step),
            (f"{PATH}accuracy_mean", float(mean), step),
            (f"{PATH}accuracy_std", float(std), step),
            (f"{PATH}nonzero_weights", float(nonzero), step),
        ]
    return row, series


# -- holdout ----------------------------------------------------------------------------
def holdout_intervals(
    cfg: DictConfig, dataset: PreparedDataset, proba: np.ndarray, threshold, output_dir: Path
) -> dict[str, float]:
    """Bootstrap CI of the test accuracy from the model's test probabilities ``proba``
    (n_test, n_classes); writes ``test_predictions.csv`` (one row per test example:
    label, prediction, correct), which the paired comparison reads."""
    y = np.asarray(dataset.y["test"])
    predicted = (
        (proba[:, 1] >= threshold).astype(np.int64)
        if threshold is not None
        else np.argmax(proba, axis=1)
    )
    correct = predicted == y
    _write_csv(
        pd.DataFrame({"label": y, "predicted": predicted, "correct": correct.astype(int)}),
        output_dir / "test_predictions.csv",
    )
    interval = statistics.bootstrap_interval(
        correct, cfg.evaluation.n_boot, cfg.seed, cfg.evaluation.confidence
    )
    return interval.as_metrics("test_accuracy")


# -- cross-validation ---------------------------------------------------------------------
def _folds(key: str, y: np.ndarray, n_splits: int, n_repeats: int, seed: int):
    try:
        return repeated_stratified_kfold(y, n_splits, n_repeats, seed)
    except ValueError as exc:
        raise ConfigError(key, f"{exc}: lower it or use more data") from None


def _fold_features(cfg: DictConfig, dataset: PreparedDataset):
    """The labels and a function ``(train, test) -> (X_train, X_test)`` over every example."""
    if cfg.dataset.kind == "reviews":
        # The options the prepared folder was made with (the workflow's `text:`), so the
        # CV estimate is of the features the served model uses.
        options = TextOptions.from_meta(dataset.meta, Path(cfg.dataset.path) / "meta.json")
        log.info("cross-validation: per-fold text features with %s", options)
        corpus = ReviewCorpus(reviews_table_path(cfg.dataset.path), options)
        return corpus.y, lambda train, test: corpus.fold(train, test)[:2]
    # Features without fitted statistics (Gaussian clouds): pool the splits.
    # Folds are row subsets, held in memory: a streamed split is read whole here.
    parts = [dataset.X[split] for split in SPLITS]
    parts = [part.tocsr() if isinstance(part, StreamedCSR) else part for part in parts]
    X = sp.vstack(parts, format="csr") if sp.issparse(parts[0]) else np.concatenate(parts)
    y = np.concatenate([dataset.y[split] for split in SPLITS])
    return y, lambda train, test: (X[train], X[test])


def cross_validate(
    cfg: DictConfig, dataset: PreparedDataset, output_dir: Path
) -> tuple[dict[str, float], list[tuple[str, float, int]]]:
    """Nested repeated stratified k-fold; writes ``folds.csv``.

    Returns the summary metrics (``test_<metric>_mean`` ...) and the per-fold series
    (``cv/test_<metric>``, ``cv/selected_<penalty>``; step = fold).
    """
    e = cfg.evaluation
    y, features = _fold_features(cfg, dataset)
    class_names = dataset.class_names
    binary = len(class_names) == 2
    names = BINARY_METRICS if binary else MULTICLASS_METRICS
    rows = []
    for k, (train, test) in enumerate(
        _folds("evaluation.n_splits", y, e.n_splits, e.n_repeats, e.seed)
    ):
        X_train, X_test = features(train, test)
        estimator = build_estimator(cfg)
        row = {"fold": k, "repeat": k // e.n_splits, "n_train": train.size, "n_test": test.size}
        if cfg.selection.name == "cv_path":
            inner_seed = int(np.random.default_rng([e.seed, k]).integers(2**31))
            result = select(cfg, X_train, y[train], inner_seed)
            estimator.set_params(**{result.penalty: result.chosen})
            row[f"selected_{result.penalty}"] = result.chosen
        estimator.fit(X_train, y[train])
        proba = estimator.predict_proba(X_test)
        # No validation split inside a fold: the binary threshold is 0.5.
        scores = (
            metrics.binary_metrics(y[test], proba[:, 1], 0.5)
            if binary
            else metrics.multiclass_metrics(y[test], proba, class_names)
        )
        picked = np.maximum(proba[np.arange(test.size), y[test]], 1e-300)
        scores["loss"] = float(-np.mean(np.log(picked)))
        row.update({f"test_{m}": float(scores[m]) for m in names})
        row["nonzero_weights"] = int(np.count_nonzero(estimator.coef_))
        rows.append(row)
        log.info(
            "fold %d/%d: test accuracy %.4f", k + 1, e.n_splits * e.n_repeats, row["test_accuracy"]
        )
    folds = pd.DataFrame(rows)
    _write_csv(folds, output_dir / "folds.csv")
    n_train, n_test = float(folds["n_train"].mean()), float(folds["n_test"].mean())
    out: dict[str, float] = {"cv_folds": len(rows)}
    series = []
    for m in names:
        values = folds[f"test_{m}"].to_numpy()
        out.update(
            statistics.cv_interval(values, n_train, n_test, e.confidence).as_metrics(f"test_{m}")
        )
        series += [(f"{CV}test_{m}", float(v), step) for step, v in enumerate(values)]
    for key in ("selected_l2", "selected_l1"):
        if key in folds:
            series += [(f"{CV}{key}", float(v), step) for step, v in enumerate(folds[key])]
    return out, series
