"""Model selection: pick the penalty by inner k-fold CV along a warm-started path.

:func:`fit_path` fits one model per penalty value, strongest penalty first, each fit
starting from the previous solution (the solvers take ``coef0``/``intercept0``): along a
log-spaced path consecutive solutions are close, so each fit needs few iterations.
:func:`select_penalty` runs that path on every inner fold of the training part it is
given and picks the value with the best mean validation accuracy (or, with the
one-standard-error rule, the strongest penalty within one standard error of the best).

The interface is narrow on purpose (arrays in, penalties and scores out) so that it can
later call :func:`logreg.linear.path.regularization_path` instead of the solvers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from logreg.linear.loss import make_loss, one_hot
from logreg.linear.model_selection import repeated_stratified_kfold
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers import SOLVERS, ConvergenceWarning, resolve_solver

PENALTIES = ("l2", "l1")


@dataclass(frozen=True)
class PathSpec:
    """What a path fit needs beyond the data: the model and the solver's stopping rule.

    ``penalty`` is the strength the path varies (``l2`` or ``l1``); ``fixed`` the other
    one, held constant (an elastic net path varies ``l1`` at fixed ``l2``).
    """

    penalty: str = "l2"
    fixed: float = 0.0
    multinomial: bool = False
    fit_intercept: bool = True
    solver: str = "auto"
    max_iter: int = 500
    tol: float = 1e-6

    def strengths(self, value: float) -> ElasticNet:
        if self.penalty == "l2":
            return ElasticNet(l1=self.fixed, l2=float(value))
        return ElasticNet(l1=float(value), l2=self.fixed)


def penalty_grid(high: float, low: float, n_values: int) -> np.ndarray:
    """``n_values`` log-spaced penalties from ``high`` down to ``low`` (decreasing)."""
    if not 0 < low < high or n_values < 2:
        raise ValueError(f"need 0 < low < high and n_values >= 2, got {low}, {high}, {n_values}")
    return np.geomspace(high, low, n_values)


def l1_max(X, y_index: np.ndarray, n_classes: int, spec: PathSpec) -> float:
    """The smallest L1 strength whose solution has every weight zero (with the
    intercept at its optimum, the class log-frequencies): ``max |grad_W L(0, b*)|``."""
    loss = make_loss(n_classes, spec.multinomial, spec.fit_intercept)
    Y = one_hot(y_index, loss.n_outputs)
    freq = np.clip(Y.mean(axis=0), 1e-12, 1 - 1e-12)
    intercept = (
        np.log(freq / (1 - freq)) if loss.n_outputs == 1 else np.log(freq)
    ) * spec.fit_intercept
    coef = np.zeros((loss.n_outputs, X.shape[1]))
    grad = loss.gradient(coef, intercept, X, Y)[0] + spec.fixed * coef
    return float(np.max(np.abs(grad)))


def fit_path(X, y_index: np.ndarray, n_classes: int, values, spec: PathSpec, warm_start=True):
    """One fit per penalty in ``values`` (in the given order), warm-started.

    Returns
    -------
    coefs : list of ndarray of shape (K, n_features)
    intercepts : list of ndarray of shape (K,)
    n_iter : list of int
    """
    loss = make_loss(n_classes, spec.multinomial, spec.fit_intercept)
    Y = one_hot(y_index, loss.n_outputs)
    coef = intercept = None
    coefs, intercepts, n_iters = [], [], []
    for value in values:
        strengths = spec.strengths(value)
        solver = SOLVERS[resolve_solver(spec.solver, strengths.l1)]
        with warnings.catch_warnings():
            # An inner fit that stops at max_iter still ranks its penalty; the final
            # fit of the run reports its own convergence.
            warnings.simplefilter("ignore", ConvergenceWarning)
            coef, intercept, n_iter, _ = solver(
                loss,
                strengths,
                X,
                Y,
                None,
                coef0=coef if warm_start else None,
                intercept0=intercept if warm_start else None,
                max_iter=spec.max_iter,
                tol=spec.tol,
            )
        coefs.append(coef)
        intercepts.append(intercept)
        n_iters.append(int(n_iter))
    return coefs, intercepts, n_iters


def _accuracy(loss, coef, intercept, X, y_index) -> float:
    raw = loss.raw_prediction(coef, intercept, X)
    predicted = (raw[:, 0] >= 0).astype(np.int64) if raw.shape[1] == 1 else raw.argmax(axis=1)
    return float(np.mean(predicted == y_index))


@dataclass
class PathResult:
    """The inner CV curve and the chosen penalty.

    ``scores`` has shape ``(n_inner_folds, n_values)`` (validation accuracy),
    ``nonzero`` the mean number of non-zero weights at each value.
    """

    penalty: str
    values: np.ndarray
    scores: np.ndarray
    nonzero: np.ndarray
    chosen: float
    n_iter: int

    @property
    def mean(self) -> np.ndarray:
        return self.scores.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.scores.std(axis=0, ddof=1) if self.scores.shape[0] > 1 else 0 * self.mean


def choose(values: np.ndarray, scores: np.ndarray, one_se: bool) -> float:
    """The penalty of the best mean score (first, i.e. strongest, among ties); with
    ``one_se`` the strongest penalty whose mean is within one standard error of it."""
    mean = scores.mean(axis=0)
    best = int(np.argmax(mean))
    if not one_se or scores.shape[0] < 2:
        return float(values[best])
    se = scores[:, best].std(ddof=1) / np.sqrt(scores.shape[0])
    order = np.argsort(values)[::-1]  # strongest first
    for i in order:
        if mean[i] >= mean[best] - se:
            return float(values[i])
    return float(values[best])  # pragma: no cover - best itself qualifies


def select_penalty(
    X,
    y_index: np.ndarray,
    n_classes: int,
    values,
    spec: PathSpec,
    *,
    n_splits: int,
    seed: int,
    one_se: bool = False,
    validation=None,
) -> PathResult:
    """Inner CV along the path on ``(X, y_index)``; ``validation=(X_val, y_val)`` scores
    one path fitted on all of ``X`` on that set instead (FER2013's PublicTest)."""
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    loss = make_loss(n_classes, spec.multinomial, spec.fit_intercept)
    if validation is not None:
        folds = [(np.arange(X.shape[0]), None)]
    else:
        folds = repeated_stratified_kfold(y_index, n_splits, 1, seed)
    scores, nonzero, n_iter = [], [], 0
    for train, test in folds:
        coefs, intercepts, iters = fit_path(X[train], y_index[train], n_classes, values, spec)
        X_val, y_val = validation if test is None else (X[test], y_index[test])
        scores.append([_accuracy(loss, c, b, X_val, y_val) for c, b in zip(coefs, intercepts)])
        nonzero.append([np.count_nonzero(c) for c in coefs])
        n_iter += sum(iters)
    scores_arr = np.asarray(scores)
    return PathResult(
        spec.penalty,
        values,
        scores_arr,
        np.mean(nonzero, axis=0),
        choose(values, scores_arr, one_se),
        n_iter,
    )
