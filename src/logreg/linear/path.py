r"""Regularization paths: fits over a decreasing sequence of penalties, warm-started.

Each fit starts from the previous solution, which is close to the next one, so a path
of 20 values costs a few cold fits. For an L1 path the sequential strong rule
(Tibshirani et al. 2012) also screens the features: at :math:`\lambda_1^{new}` after
:math:`\lambda_1^{old}`, feature :math:`j` is left out when every class has

.. math:: |\partial_{kj} f(W^{old})| < 2\lambda_1^{new} - \lambda_1^{old},

the fit runs on the kept columns only, and the optimality conditions of the full
problem are then checked on every left-out feature: any that violates them (the rule
is a heuristic) is added back and the fit repeated. A feature that is non-zero at the
optimum is therefore never dropped.

The largest useful penalty is :func:`l1_max`, the smallest :math:`\lambda_1` whose
optimum has all weights zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logreg.linear.exceptions import InvalidParameterError
from logreg.linear.loss import make_loss, one_hot
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers import (
    SMOOTH_ONLY_SOLVERS,
    SOLVERS,
    STOCHASTIC_SOLVERS,
    kkt_violation,
    resolve_solver,
)
from logreg.linear.solvers._common import exact_sparse
from logreg.linear.streamed import check_streamable, sparse_like
from logreg.linear.validation import check_features, check_labels, check_sample_weight

#: Solvers that make a float64 copy of a sparse float32 X for every fit: a path converts
#: X once for all of its fits instead.
CONVERTING_SOLVERS = frozenset({"newton_cd", "fista"})

__all__ = [
    "RegularizationPath",
    "check_path_solver",
    "l1_max",
    "largest_l1",
    "regularization_path",
]


def check_path_solver(solver: str, l1: float) -> None:
    """Refuse a solver that cannot fit a path with penalties up to ``l1``: a path compares
    fits across penalties, so each must be deterministic (no ``sgd``/``minibatch``), and
    an L1 path needs a solver of the non-smooth objective.

    Raises
    ------
    InvalidParameterError
        Naming ``solver`` and the solvers that work.
    """
    if solver in STOCHASTIC_SOLVERS or (solver in SMOOTH_ONLY_SOLVERS and l1 > 0):
        usable = [
            name
            for name in SOLVERS
            if name not in STOCHASTIC_SOLVERS and not (name in SMOOTH_ONLY_SOLVERS and l1 > 0)
        ]
        raise InvalidParameterError(
            "solver",
            f"a regularization path needs a deterministic solver{' of L1' if l1 > 0 else ''}, "
            f"got {solver!r}; use auto or one of {', '.join(usable)}",
        )


@dataclass
class RegularizationPath:
    """The fits of a path, one row per penalty value.

    Attributes
    ----------
    l1s, l2s : ndarray of shape (n_values,)
        The penalties of each fit (one of them is constant).
    coefs : ndarray of shape (n_values, K, n_features)
    intercepts : ndarray of shape (n_values, K)
    n_iter : ndarray of shape (n_values,)
        Solver iterations of each fit (summed over its KKT re-fits).
    n_kept : ndarray of shape (n_values,)
        Features the fit ran on after screening (``n_features`` without it).
    classes : ndarray of shape (n_classes,)
    solver : str
    """

    l1s: np.ndarray
    l2s: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    n_kept: np.ndarray
    classes: np.ndarray
    solver: str


def l1_max(loss, X, Y, sample_weight=None) -> float:
    r"""The smallest ``l1`` for which all weights are zero at the optimum (any ``l2``).

    With zero weights the optimal intercepts give every sample the weighted class
    frequencies :math:`\bar p` (or, without intercept, :math:`\sigma(0)` / uniform),
    and zero is optimal exactly when
    :math:`\lambda_1 \ge \max_{kj} |\frac1n \sum_i s_i (\bar p_k - Y_{ik}) x_{ij}|`.

    Parameters
    ----------
    loss : BinaryCrossEntropy or MultinomialCrossEntropy
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    float
    """
    n = X.shape[0]
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if loss.fit_intercept:
        p = (s @ Y) / s.sum()
    else:
        p = np.full(Y.shape[1], 0.5 if Y.shape[1] == 1 else 1.0 / Y.shape[1])
    residual = (s / n)[:, None] * (p[None, :] - Y)
    gradient = np.asarray(X.T @ residual.astype(X.dtype, copy=False), dtype=float)
    return float(np.abs(gradient).max())


def regularization_path(
    estimator, X, y, *, l1s=None, l2s=None, n_values=20, eps=1e-3, sample_weight=None,
    screening=True,
):  # fmt: skip
    """Fit ``estimator``'s model for a decreasing sequence of penalties, warm-started.

    Parameters
    ----------
    estimator : LogisticRegression or SoftmaxRegression
        Gives the model and every other parameter (solver, tol, max_iter, the fixed
        penalty, class_weight, fit_intercept); it is not fitted. Early stopping and
        validation data are not used on a path.
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    l1s, l2s : array-like or None
        The values of ``l1`` (with ``l2 = estimator.l2``) or of ``l2`` (with
        ``l1 = estimator.l1``), fitted from the largest down. At most one may be
        given; with neither, ``n_values`` values of ``l1`` spaced geometrically from
        :func:`l1_max` down to ``eps * l1_max``.
    n_values : int
    eps : float
    sample_weight : array-like of shape (n_samples,) or None
    screening : bool
        Apply the sequential strong rule with a KKT check on an L1 path.

    Returns
    -------
    RegularizationPath
    """
    if l1s is not None and l2s is not None:
        raise ValueError("give l1s or l2s, not both")
    X, classes, loss, Y, scale = _problem(estimator, X, y, sample_weight)
    if l2s is not None:
        l2s = np.sort(np.asarray(l2s, dtype=float).ravel())[::-1]
        l1s = np.full(l2s.shape, float(estimator.l1))
        screening = False
    else:
        if l1s is None:
            top = l1_max(loss, X, Y, scale)
            l1s = top * np.geomspace(1.0, eps, n_values)
        l1s = np.sort(np.asarray(l1s, dtype=float).ravel())[::-1]
        l2s = np.full(l1s.shape, float(estimator.l2))
    if np.any(l1s < 0) or np.any(l2s < 0) or not np.all(np.isfinite(l1s + l2s)):
        raise ValueError("the penalties of a path must be finite and >= 0")
    solver = resolve_solver(estimator.solver, float(l1s.min()), sparse_like(X))
    check_path_solver(solver, float(l1s.max()))
    options = {"max_iter": estimator.max_iter, "tol": float(estimator.tol)}
    options.update(estimator._step_options(solver))
    K, d = loss.n_outputs, X.shape[1]
    coef, intercept = np.zeros((K, d)), np.zeros(K)
    solvers = {resolve_solver(estimator.solver, float(l1), sparse_like(X)) for l1 in l1s}
    for name in solvers:
        check_streamable(X, name)
    if screening:
        check_streamable(X, solver, "an L1 path (its screening)")
    if sparse_like(X) and (screening or solvers & CONVERTING_SOLVERS):
        # Once for the whole path: float64 (what newton_cd and fista compute with) and
        # CSC, whose column subsets (the screened problems) are cheap slices. An L2 path
        # of newton_cg or lbfgs keeps X as given: they compute with float32 X, and the
        # copy (12 bytes per stored value, 1.5 GB at 10^6 reviews) was most of the memory
        # of a large fit (docs/scale.md).
        X = exact_sparse(X).tocsc()
    at_zero = loss.loss_gradient(coef, intercept, X, Y, scale)
    zero_intercept = float(np.abs(at_zero[2]).max(initial=0.0))
    reference = max(float(np.abs(at_zero[1]).max(initial=0.0)), zero_intercept) or 1.0
    n = l1s.size
    coefs, intercepts = np.zeros((n, K, d)), np.zeros((n, K))
    n_iter, n_kept = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    previous_l1 = None
    for index, (l1, l2) in enumerate(zip(l1s, l2s)):
        penalty = ElasticNet(l1=float(l1), l2=float(l2))
        fit = SOLVERS[resolve_solver(estimator.solver, l1, sparse_like(X))]
        if screening and l1 > 0:
            grad = _smooth_gradient(loss, penalty, coef, intercept, X, Y, scale)
            threshold = 2 * l1 - (previous_l1 if previous_l1 is not None else l1)
            keep = np.any(np.abs(grad) >= threshold, axis=0) | np.any(coef != 0, axis=0)
        else:
            keep = np.ones(d, dtype=bool)
        while True:
            columns = np.flatnonzero(keep)
            X_kept = X if columns.size == d else X[:, columns]
            # The solver's tol is relative to its problem's gradient at zero: rescale
            # it so that every fit of the path meets the same absolute bound.
            local = max(float(np.abs(at_zero[1][:, columns]).max(initial=0.0)), zero_intercept)
            local = local or 1.0
            tol = options["tol"] * reference / local
            coef_kept, intercept, iterations, _, _ = fit(
                loss, penalty, X_kept, Y, scale, coef0=coef[:, columns], intercept0=intercept,
                **{**options, "tol": tol},
            )  # fmt: skip
            coef = np.zeros((K, d))
            coef[:, columns] = coef_kept
            n_iter[index] += iterations
            if columns.size == d:
                break
            grad = _smooth_gradient(loss, penalty, coef, intercept, X, Y, scale)
            violations = kkt_violation(coef, grad, float(l1)).max(axis=0)
            missed = ~keep & (violations > options["tol"] * reference)
            if not missed.any():
                break
            keep |= missed
        coefs[index], intercepts[index], n_kept[index] = coef, intercept, keep.sum()
        previous_l1 = l1
    return RegularizationPath(l1s, l2s, coefs, intercepts, n_iter, n_kept, classes, solver)


def _problem(estimator, X, y, sample_weight):
    """The checked inputs of a path: ``X``, the classes, the loss, the one-hot ``Y`` and
    the per-sample scale (class and sample weights, as :meth:`fit` computes them)."""
    estimator.validate_params()
    X = check_features(X, estimator=type(estimator).__name__)
    classes, y_index = check_labels(y, X.shape[0])
    estimator._check_classes(classes)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    scale = estimator._sample_scale(classes, y_index, sample_weight)
    loss = make_loss(classes.size, estimator._multinomial, estimator.fit_intercept)
    return X, classes, loss, one_hot(y_index, loss.n_outputs), scale


def largest_l1(estimator, X, y, sample_weight=None) -> float:
    """:func:`l1_max` of ``estimator``'s model (intercept, class weights) on ``(X, y)``:
    the strongest useful value of an L1 path."""
    X, _, loss, Y, scale = _problem(estimator, X, y, sample_weight)
    return l1_max(loss, X, Y, scale)


def _smooth_gradient(loss, penalty, coef, intercept, X, Y, scale):
    grad = loss.loss_gradient(coef, intercept, X, Y, scale)[1]
    return grad + penalty.l2 * coef
