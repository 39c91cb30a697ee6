r"""Proximal Newton with coordinate descent on working sets, for L1 and ElasticNet.

The method of newGLMNET (Yuan, Ho & Lin 2012) with the working sets of celer/skglm
(Massias et al. 2018, Bertrand et al. 2022). Each outer iteration

1. computes the gradient :math:`G` of the smooth part :math:`f` (one product
   ``X.T @ R``) and the optimality violation of every weight,

   .. math::

       v_{kj} = \begin{cases} |G_{kj} + \lambda_1 \operatorname{sign} W_{kj}| & W_{kj} \ne 0\\
                \max(|G_{kj}| - \lambda_1, 0) & W_{kj} = 0 \end{cases}

   (zero for every weight exactly at the optimum); it stops when
   :math:`\max v \le` ``tol`` :math:`\cdot \max|\nabla f(0)|`;
2. builds a working set: the features with a non-zero weight and the most violating
   others, at least twice as many features as the support;
3. minimizes the L1-penalized second-order model of :math:`J` (the exact Hessian,
   softmax class coupling included) on the working set by coordinate descent
   (:mod:`logreg.linear.solvers._cd_kernels`), to a tolerance that tightens with the
   outer violation;
4. takes the step along the model's minimizer with an Armijo backtracking line
   search on the true objective, evaluated from the kept scores (no product with X).

Features outside the working set are untouched, so one outer iteration costs one
pass over ``X`` plus a few over the working-set columns. Sparse ``X`` is converted
to CSC once per fit (the same dtype, no densifying; the kernels sum in float64, so
float32 data lose nothing and need no float64 copy); dense ``X`` gives a
Fortran-ordered copy of the working-set columns only. The binary sparse case, the
pipeline's L1 review models, has its own sweeps (``cd_sparse_binary``: the intercept
kept at its optimum through implicitly centered columns, and Anderson extrapolation),
which cut an L1 fit on the electronics tf-idf vectors (1,400 x 22,007) to gap 1e-5
from 35 ms to 9 ms of CPU time (``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from logreg.linear.solvers._cd_kernels import (
    cd_dense,
    cd_sparse,
    cd_sparse_binary,
    gradient_sparse,
    gradient_violation_binary,
    scores_sparse,
)
from logreg.linear.solvers._common import (
    Stagnation,
    check_finite,
    finish,
    gradient_reference,
    initial_weights,
    progress_bar,
    record_iteration,
    relative,
)

WS_MIN = 200
"""Smallest working set (features). skglm's ProxNewton starts from 10 and doubles; on
the electronics tf-idf vectors (369 non-zero weights at l1 = 1e-4)
starting from 50 spent 5 of 8 outer iterations growing the set, each costing a full
gradient, and 200 saved two of them."""

MAX_SWEEPS = 100
"""Coordinate-descent sweeps per outer iteration at most."""

STALL_ITERATIONS = 8
"""Outer iterations in a row that lower neither the violation by 10% nor the objective
by more than its rounding error (``STALL_ULPS``) that end a fit: Newton steps cut the
violation fast until rounding (e.g. of float32 products) has the last word."""

STALL_ULPS = 1e3
"""The objective's rounding error in float64 ulps: it sums n per-sample losses computed
from scores kept up to date by additions, so its error exceeds a few ulps."""

INNER_TOL = 0.1
"""The inner sweeps stop when no weight moved by more than this share of the outer
violation (in gradient units). 0.3 (skglm's ProxNewton's) left the binary sweeps after
one pass once the intercept no longer slowed them, and the fit then needed 13 outer
iterations instead of 8 to reach tol 1e-3 on the electronics vectors."""

ARMIJO = 1e-4
"""Sufficient-decrease constant of the line search."""


def kkt_violation(coef, grad_coef, l1: float) -> np.ndarray:
    """Distance of zero to the subdifferential of :math:`J` in each weight.

    Parameters
    ----------
    coef, grad_coef : ndarray of shape (K, n_features)
        Weights and the gradient of the smooth part at them.
    l1 : float

    Returns
    -------
    ndarray of shape (K, n_features)
        Zero exactly at the optimum.
    """
    free = np.maximum(np.abs(grad_coef) - l1, 0.0)
    return np.where(coef != 0.0, np.abs(grad_coef + l1 * np.sign(coef)), free)


def newton_cd(
    loss,
    penalty,
    X,
    Y,
    sample_weight=None,
    *,
    coef0=None,
    intercept0=None,
    max_iter=100,
    tol=1e-4,
    callback=None,
    verbose=0,
):
    """Minimize the objective (any ``l1, l2 >= 0``) by proximal Newton coordinate descent.

    Parameters
    ----------
    loss, penalty, X, Y, sample_weight, coef0, intercept0, callback, verbose
        As for :func:`logreg.linear.solvers.lbfgs.lbfgs`.
    max_iter : int
        Maximum number of outer (Newton) iterations.
    tol : float
        Stop when the largest optimality violation (:func:`kkt_violation`, and the
        gradient in the intercepts) is at most ``tol`` times the largest entry of the
        gradient of ``f`` at zero weights and intercepts.

    Returns
    -------
    coef, intercept, n_iter, history, convergence
        As for :func:`logreg.linear.solvers.lbfgs.lbfgs`; one history entry per outer
        iteration. Besides ``tol`` and ``max_iter`` it stops when the line search finds
        no decrease, or ``STALL_ITERATIONS`` outer iterations after its last progress
        (:class:`~logreg.linear.solvers._common.Stagnation`).
    """
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    K, d = coef.shape
    fit_intercept = loss.fit_intercept
    data = None
    if sp.issparse(X):
        # The kernels sum in float64 whatever the dtype of the CSC arrays: no float64
        # copy of float32 data (it cost a sixth of a fit on the electronics vectors).
        X_csc = X.tocsc()
        X_csc.sort_indices()
        data = (X_csc.indptr, X_csc.indices, X_csc.data)
        raw = np.empty((X.shape[0], K))
        scores_sparse(*data, coef, intercept if fit_intercept else np.zeros(K), raw)
    else:
        raw = loss.raw_prediction(coef, intercept, X)
    precision = np.dtype(np.float64) if data is not None else X.dtype
    reference = None  # set from the first gradient (see gradient_reference)
    history = {"loss": []}
    stagnation = Stagnation(np.float64, STALL_ITERATIONS, ulps=STALL_ULPS)
    steps = 0
    ws_size = WS_MIN
    with np.errstate(over="ignore"), progress_bar(max_iter, verbose, "newton_cd") as bar:
        value = loss.loss_residual_from_raw(raw, Y, sample_weight)[0] + penalty.value(coef)
        while True:
            residual = loss.loss_residual_from_raw(raw, Y, sample_weight)[1]
            grad_coef, grad_intercept, violations = _gradient(
                loss, penalty, coef, residual, X, data
            )
            if reference is None:
                reference = gradient_reference(
                    loss, X, Y, sample_weight, coef0, intercept0, (grad_coef, grad_intercept)
                )
            violation = float(violations.max(initial=0.0))
            if fit_intercept:
                violation = max(violation, float(np.abs(grad_intercept).max()))
            criterion = relative(violation, reference)
            reason = stagnation.stop(value, criterion, tol, at_max_iter=steps == max_iter)
            if reason is not None:
                break
            step, value, raw, ws_size = _newton_step(
                loss, penalty, X, data, Y, sample_weight, coef, intercept, raw, value,
                grad_coef, grad_intercept, violations, violation, ws_size,
            )  # fmt: skip
            if step == 0.0:
                reason = "line search failed"
                break
            steps += 1
            check_finite(value, "newton_cd", steps)
            record_iteration(history, bar, value)
            if callback is not None and callback(steps, coef, intercept, value):
                reason = "callback"
                break
    convergence = finish(
        "newton_cd", n_iter=steps, max_iter=max_iter, tol=tol, criterion=criterion,
        reason=reason, measure="relative optimality violation", dtype=precision,
    )  # fmt: skip
    if K > 1 and fit_intercept:
        # Softmax scores are defined up to a shift shared by all classes, which the
        # unpenalized intercepts leave free; coordinate steps move it. Center it, as
        # the full-gradient solvers keep it (their intercept gradient sums to 0).
        intercept -= intercept.mean()
    return coef, intercept, steps, history, convergence


def _newton_step(
    loss, penalty, X, data, Y, sample_weight, coef, intercept, raw, value, grad_coef,
    grad_intercept, violations, violation, ws_size,
):  # fmt: skip
    """One proximal Newton step on a working set (``coef``, ``intercept`` in place).

    Returns the step length (0 when no decrease was possible), the new objective and
    scores, and the working-set size to start from next time.
    """
    l1, l2 = penalty.l1, penalty.l2
    W = coef
    K, d = W.shape
    # Working set: the support first, then the most violating other features. Without
    # L1 every weight is non-zero at the optimum: all features at once.
    support = np.any(W != 0.0, axis=0)
    ws_size = d if l1 == 0.0 else min(d, max(ws_size, 2 * int(support.sum()), WS_MIN))
    score = np.where(support, np.inf, violations.max(axis=0, initial=0.0))
    if ws_size < d:
        ws = np.argpartition(-score, ws_size - 1)[:ws_size]
        ws = np.sort(ws[score[ws] > 0.0])
    else:
        ws = np.flatnonzero(score > 0.0)
    n = raw.shape[0]
    M = np.zeros(n)
    coupled = K > 1
    if coupled:
        P = np.ascontiguousarray(loss.predict_proba(raw).T)
        PW = P * ((1.0 / n) if sample_weight is None else sample_weight / n)
        H = PW * (1.0 - P)
    else:
        H = np.ascontiguousarray(loss.curvature(raw, sample_weight).T)
        P = PW = H
    Xd = np.zeros_like(H)
    delta_b = np.zeros(K)
    W_ws = np.ascontiguousarray(W[:, ws])
    new_ws = W_ws.copy()
    grad_ws = np.ascontiguousarray(grad_coef[:, ws])
    grad_b = np.ascontiguousarray(grad_intercept)
    inner_tol = INNER_TOL * violation
    model = (H, PW, P, M, coupled, Xd, delta_b)
    options = (l1, l2, loss.fit_intercept, MAX_SWEEPS, inner_tol)
    if data is not None and not coupled:
        cd_sparse_binary(
            *data, ws, W_ws[0], new_ws[0], grad_ws[0], grad_b, H[0], Xd[0], delta_b, *options
        )
    elif data is not None:
        cd_sparse(*data, ws, W_ws, new_ws, grad_ws, grad_b, *model, *options)
    else:
        X_ws = np.asfortranarray(X[:, ws])
        cd_dense(X_ws, W_ws, new_ws, grad_ws, grad_b, *model, *options)
    direction = new_ws - W_ws
    # Elementwise |new| - |old| first: the sums would cancel catastrophically.
    decrease = (
        float(np.sum(grad_ws * direction))
        + float(grad_b @ delta_b)
        + l1 * float(np.sum(np.abs(new_ws) - np.abs(W_ws)))
    )
    step, value, raw = _line_search(
        loss, penalty, coef, ws, direction, raw, Xd, Y, sample_weight, value, decrease
    )
    if step:
        coef[:, ws] += step * direction
        intercept += step * delta_b
    return step, value, raw, ws_size


def _gradient(loss, penalty, coef, residual, X, data=None):
    """Gradient of ``f`` from the scaled residual (one product with ``X``; ``data``:
    the CSC arrays of a sparse ``X``), and the optimality violation of every weight
    (:func:`kkt_violation`).

    Returns
    -------
    grad_coef, violations : ndarray of shape (K, n_features)
    grad_intercept : ndarray of shape (K,)
    """
    K = coef.shape[0]
    if loss.fit_intercept:
        grad_intercept = residual.sum(axis=0)
    else:
        grad_intercept = np.zeros(K)
    if data is not None and K == 1:
        # One compiled pass for both: the two numpy passes over all the weights cost
        # a third of the product itself.
        grad_coef, violations = np.empty((1, coef.shape[1])), np.empty((1, coef.shape[1]))
        gradient_violation_binary(
            *data, np.ascontiguousarray(residual[:, 0]), coef[0], penalty.l1, penalty.l2,
            grad_coef[0], violations[0],
        )  # fmt: skip
        return grad_coef, grad_intercept, violations
    if data is not None:
        grad_coef = np.empty(coef.shape)
        gradient_sparse(*data, np.ascontiguousarray(residual.T), grad_coef)
    else:
        R = residual.astype(X.dtype, copy=False)
        if R.shape[1] == 1:
            grad_coef = np.asarray(X.T @ R[:, 0], dtype=np.float64)[None, :]
        else:
            grad_coef = np.asarray(X.T @ R, dtype=np.float64).T
        grad_coef = np.ascontiguousarray(grad_coef)
    if penalty.l2:
        grad_coef += penalty.l2 * coef
    return grad_coef, grad_intercept, kkt_violation(coef, grad_coef, penalty.l1)


def _line_search(loss, penalty, coef, ws, direction, raw, Xd, Y, sample_weight, value, decrease):
    """Armijo backtracking along ``direction`` (the weights ``coef[:, ws]``) and the
    intercept step, whose score change is ``Xd`` (K, n).

    Returns the step (0 if no step decreases the objective), the objective and the
    scores. A predicted decrease within the rounding error of the objective cannot be
    checked by comparing values: the model's full step is then taken (convergence is
    judged by the optimality violation, which stays accurate).
    """
    tiny = 64 * np.finfo(float).eps * abs(value)
    if decrease > tiny:
        return 0.0, value, raw
    trust_model = -decrease <= tiny
    W_ws = coef[:, ws]
    rest = coef.copy()
    rest[:, ws] = 0.0
    fixed_l2 = float(np.sum(rest * rest))
    fixed_l1 = float(np.abs(rest).sum())
    step = 1.0
    for _ in range(40):
        new_ws = W_ws + step * direction
        new_raw = raw + step * Xd.T
        trial = (
            loss.loss_from_raw(new_raw, Y, sample_weight)
            + 0.5 * penalty.l2 * (fixed_l2 + float(np.sum(new_ws * new_ws)))
            + penalty.l1 * (fixed_l1 + float(np.abs(new_ws).sum()))
        )
        if trust_model or trial <= value + ARMIJO * step * decrease:
            return step, trial, new_raw
        step *= 0.5
    return 0.0, value, raw
