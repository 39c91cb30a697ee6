"""Model selection: pick the penalty by inner k-fold CV along a warm-started path.

:func:`select_penalty` fits the configured estimator's regularization path
(:func:`logreg.linear.path.regularization_path`: strongest penalty first, each fit
started from the previous solution, strong-rule screening on an L1 path) on every inner
fold of the training part it is given, scores each fit on the fold's held-out part, and
picks the value with the best mean validation accuracy (or, with the one-standard-error
rule, the strongest penalty within one standard error of the best). With a validation
set (FER2013's PublicTest) it fits one path on the whole training part and scores that.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from logreg.linear.model_selection import repeated_stratified_kfold
from logreg.linear.path import RegularizationPath, regularization_path
from logreg.linear.solvers import ConvergenceWarning

PENALTIES = ("l2", "l1")


def penalty_grid(high: float, low: float, n_values: int) -> np.ndarray:
    """``n_values`` log-spaced penalties from ``high`` down to ``low`` (decreasing)."""
    if not 0 < low < high or n_values < 2:
        raise ValueError(f"need 0 < low < high and n_values >= 2, got {low}, {high}, {n_values}")
    return np.geomspace(high, low, n_values)


def grid_edge(values: np.ndarray, chosen: float) -> str | None:
    """``"low"`` when ``chosen`` is the weakest value of the grid, ``"high"`` when the
    strongest, else None."""
    if chosen == np.min(values):
        return "low"
    return "high" if chosen == np.max(values) else None


def extend_grid(values: np.ndarray, edge: str, n_more: int, ceiling: float) -> np.ndarray:
    """``values`` (log-spaced) with ``n_more`` values of the same spacing past ``edge``,
    never above ``ceiling``; decreasing, like :func:`penalty_grid`."""
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    ratio = values[0] / values[1]
    steps = ratio ** np.arange(1, n_more + 1)
    more = values[-1] / steps if edge == "low" else values[0] * steps
    more = more[more <= ceiling * (1 + 1e-12)]
    return np.sort(np.concatenate([values, more]))[::-1]


@dataclass
class PathResult:
    """The inner CV curve and the chosen penalty.

    ``scores`` has shape ``(n_inner_folds, n_values)`` (validation accuracy), ``nonzero``
    the mean number of non-zero weights at each value, ``n_iter`` the solver iterations
    of every path fit. Scored on a validation set, ``coef``/``intercept`` are the path's
    fit at the chosen value (on the whole training part) and ``n_iter_to_chosen`` the
    iterations of the path up to it (what that fit cost), else None and 0.
    """

    penalty: str
    values: np.ndarray
    scores: np.ndarray
    nonzero: np.ndarray
    chosen: float
    n_iter: int
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    n_iter_to_chosen: int = 0
    edge: str | None = None  # "low" / "high" when chosen is the weakest / strongest value

    @property
    def mean(self) -> np.ndarray:
        return self.scores.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.scores.std(axis=0, ddof=1) if self.scores.shape[0] > 1 else 0 * self.mean


def choose(values: np.ndarray, scores: np.ndarray, one_se: bool) -> int:
    """Index of the penalty of the best mean score (the strongest among ties); with
    ``one_se`` of the strongest penalty whose mean is within one standard error of it."""
    mean = scores.mean(axis=0)
    order = np.argsort(values)[::-1]  # strongest first
    best = int(order[np.argmax(mean[order])])
    if not one_se or scores.shape[0] < 2:
        return best
    se = scores[:, best].std(ddof=1) / np.sqrt(scores.shape[0])
    return int(next(i for i in order if mean[i] >= mean[best] - se))


def path_accuracy(path: RegularizationPath, X, y) -> np.ndarray:
    """Accuracy on ``(X, y)`` of every fit of ``path``, shape ``(n_values,)``."""
    y = np.asarray(y)
    scores = np.empty(path.coefs.shape[0])
    for i, (coef, intercept) in enumerate(zip(path.coefs, path.intercepts)):
        raw = np.asarray(X @ coef.T.astype(X.dtype, copy=False)) + intercept
        index = (raw[:, 0] >= 0).astype(np.int64) if raw.shape[1] == 1 else raw.argmax(axis=1)
        scores[i] = np.mean(path.classes[index] == y)
    return scores


def select_penalty(
    estimator,
    X,
    y,
    penalty: str,
    values,
    *,
    n_splits: int,
    seed: int,
    one_se: bool = False,
    validation=None,
) -> PathResult:
    """Inner CV along ``estimator``'s path of ``penalty`` (``"l2"`` or ``"l1"``, the
    other one held at the estimator's value) over ``values`` on ``(X, y)``;
    ``validation=(X_val, y_val)`` scores one path fitted on all of ``X`` on that set."""
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    y = np.asarray(y)
    if validation is None:
        folds = repeated_stratified_kfold(np.unique(y, return_inverse=True)[1], n_splits, 1, seed)
    else:
        folds = [(np.arange(X.shape[0]), None)]
    scores, nonzero, n_iter = [], [], 0
    for train, test in folds:
        with warnings.catch_warnings():
            # An inner fit that stops at max_iter still ranks its penalty; the final fit
            # of the run reports its own convergence.
            warnings.simplefilter("ignore", ConvergenceWarning)
            X_fit, y_fit = (X, y) if test is None else (X[train], y[train])  # no copy of X
            path = regularization_path(estimator, X_fit, y_fit, **{f"{penalty}s": values})
        X_val, y_val = validation if test is None else (X[test], y[test])
        scores.append(path_accuracy(path, X_val, y_val))
        nonzero.append(np.count_nonzero(path.coefs, axis=(1, 2)))
        n_iter += int(path.n_iter.sum())
    scores_arr = np.asarray(scores)
    best = choose(values, scores_arr, one_se)
    result = PathResult(
        penalty, values, scores_arr, np.mean(nonzero, axis=0), float(values[best]), n_iter
    )
    if validation is not None:
        result.coef, result.intercept = path.coefs[best], path.intercepts[best]
        result.n_iter_to_chosen = int(path.n_iter[: best + 1].sum())
    return result
