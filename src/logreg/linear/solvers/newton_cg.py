r"""Truncated Newton (Newton-CG) for the smooth objective (no L1), as liblinear's TRON
and scikit-learn's ``newton-cg`` solve L2 logistic regression.

Each iteration solves the Newton system :math:`\nabla^2 f\, s = -\nabla f` only
approximately, by conjugate gradients on Hessian-vector products (two products with
``X`` each, the Hessian is never formed), stopping CG when its residual is below
:math:`\min(\tfrac12, \sqrt{\lVert\nabla f\rVert})\,\lVert\nabla f\rVert` (a forcing
sequence that gives superlinear convergence); then an Armijo backtracking line search
along :math:`s` evaluates the objective from the scores :math:`z + t\,X s`, so trial
steps cost no product with ``X``. For the softmax the Hessian-vector product of a
direction :math:`V` with score change :math:`U = X V^\top + v_b` is
:math:`X^\top R + \lambda_2 V` with
:math:`R_i = w_i\,(p_i \odot U_i - p_i\, (p_i^\top U_i))` (binary:
:math:`R_i = w_i p_i (1-p_i) U_i`), :math:`w_i = s_i / n`.

Stops, like :func:`~logreg.linear.solvers.lbfgs.lbfgs`, when the largest gradient entry
is at most ``tol`` times the largest entry of the gradient at zero weights; when the
line search finds no decrease; or on :class:`~logreg.linear.solvers._common.Stagnation`:
``STALL_WINDOW`` iterations in a row that lower neither the objective beyond its
rounding nor the relative gradient by 10%. Newton steps cut the gradient by far more
than 10% until rounding has the last word, so a fit stops at most ``STALL_WINDOW``
iterations after the gradient levels off at its rounding floor (with float32 products
near 3e-8 relative, where it used to run to ``max_iter``: 20,000 iterations, 143 s on
the electronics tf-idf vectors). The products run in ``X``'s dtype: a float32 ``X`` is
not copied unless ``tol`` is below what float32 resolves and ``X`` is sparse
(:func:`~logreg.linear.solvers._common.precise_data`).
"""

from __future__ import annotations

import numpy as np

from logreg.linear.solvers._common import (
    Stagnation,
    check_finite,
    finish,
    gradient_reference,
    initial_weights,
    max_abs,
    precise_data,
    progress_bar,
    record_iteration,
    relative,
)

MAX_CG = 250
"""Conjugate-gradient iterations per Newton step at most."""

STALL_WINDOW = 5
"""Newton iterations in a row without progress that end a fit (see the module docstring)."""

MEASURE = "relative gradient"


def newton_cg(
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
    """Minimize the smooth objective with truncated Newton steps.

    Parameters
    ----------
    loss, penalty, X, Y, sample_weight, coef0, intercept0, max_iter, tol, callback, verbose
        As for :func:`logreg.linear.solvers.lbfgs.lbfgs`; ``max_iter`` counts Newton
        iterations. ``penalty.l1`` must be 0.

    Returns
    -------
    coef, intercept, n_iter, history, convergence
        As for :func:`logreg.linear.solvers.lbfgs.lbfgs`.
    """
    if not penalty.is_smooth:
        raise ValueError(f"newton_cg cannot handle an L1 penalty (l1={penalty.l1})")
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    X = precise_data(X, tol)
    fit_intercept = loss.fit_intercept
    l2 = penalty.l2
    n = X.shape[0]
    weight = np.full(n, 1.0 / n) if sample_weight is None else sample_weight / n
    raw = loss.raw_prediction(coef, intercept, X)
    # X^T as a view (CSC for a CSR X): a CSR copy of the transpose made each product
    # 10% faster but cost as much as 10 products to build (1.5 ms on the electronics
    # tf-idf vectors, where a fit takes 3 Newton steps and ~25 products).
    XT = X.T
    history = {"loss": []}
    stagnation = Stagnation(X.dtype, STALL_WINDOW)
    reference = None
    steps = 0
    with np.errstate(over="ignore"), progress_bar(max_iter, verbose, "newton_cg") as bar:
        value_loss, residual = loss.loss_residual_from_raw(raw, Y, sample_weight)
        value = value_loss + penalty.smooth_value_gradient(coef)[0]
        while True:
            grad_coef, grad_intercept = _products_t(XT, residual, fit_intercept)
            grad_coef += l2 * coef
            if reference is None:
                reference = gradient_reference(
                    loss, X, Y, sample_weight, coef0, intercept0, (grad_coef, grad_intercept)
                )
            criterion = relative(max_abs(grad_coef, grad_intercept), reference)
            reason = stagnation.stop(value, criterion, tol, at_max_iter=steps == max_iter)
            if reason is not None:
                break
            P = loss.predict_proba(raw)
            step_coef, step_intercept, step_raw = _cg(
                X, XT, P, weight, l2, grad_coef, grad_intercept, fit_intercept
            )
            slope = float(np.sum(grad_coef * step_coef)) + float(grad_intercept @ step_intercept)
            step, value, raw = _line_search(
                loss, penalty, coef, step_coef, raw, step_raw, Y, sample_weight, value, slope
            )
            if step == 0.0:
                reason = "line search failed"
                break
            steps += 1
            coef += step * step_coef
            if fit_intercept:
                intercept += step * step_intercept
            check_finite(value, "newton_cg", steps)
            residual = loss.loss_residual_from_raw(raw, Y, sample_weight)[1]
            record_iteration(history, bar, value)
            if callback is not None and callback(steps, coef, intercept, value):
                reason = "callback"
                break
    convergence = finish(
        "newton_cg", n_iter=steps, max_iter=max_iter, tol=tol, criterion=criterion,
        reason=reason, measure=MEASURE, dtype=X.dtype,
        detail=f"largest gradient entry {criterion * (reference or 1.0):.3g}, "
        f"at zero weights {reference:.3g}",
    )  # fmt: skip
    return coef, intercept, steps, history, convergence


def _products(X, coef, intercept, fit_intercept):
    """Score change ``X V^T + v_b`` (n, K) in float64, the product in X's dtype."""
    V = coef.astype(X.dtype, copy=False)
    product = (X @ V[0])[:, None] if V.shape[0] == 1 else X @ V.T
    U = np.asarray(product, dtype=np.float64)
    if fit_intercept:
        U += intercept
    return U


def _products_t(XT, R, fit_intercept):
    """``(X^T R)^T`` (K, d) from ``XT`` = X^T, and the column sums of ``R`` (zeros
    without intercept)."""
    R32 = R.astype(XT.dtype, copy=False)
    if R.shape[1] == 1:
        grad = np.asarray(XT @ R32[:, 0], dtype=np.float64)[None, :]
    else:
        grad = np.asarray(XT @ R32, dtype=np.float64).T
    grad = np.ascontiguousarray(grad)
    sums = R.sum(axis=0) if fit_intercept else np.zeros(R.shape[1])
    return grad, sums


def _hessian_scores(P, weight, U):
    """``R`` of a Hessian-vector product from the score change ``U`` (n, K)."""
    if P.shape[1] == 1:
        return (weight * (P[:, 0] * (1.0 - P[:, 0])))[:, None] * U
    mean = np.einsum("ik,ik->i", P, U)
    return weight[:, None] * P * (U - mean[:, None])


def _cg(X, XT, P, weight, l2, grad_coef, grad_intercept, fit_intercept):
    """Approximate Newton step by conjugate gradients; also returns ``X s`` (n, K).

    Not preconditioned: a Jacobi (Hessian diagonal) preconditioner, as in liblinear's
    TRON, took 31 CG iterations instead of 21 on the electronics tf-idf problem.
    """
    step_coef = np.zeros_like(grad_coef)
    step_intercept = np.zeros_like(grad_intercept)
    step_raw = np.zeros((X.shape[0], grad_coef.shape[0]))
    r_coef, r_intercept = -grad_coef, -grad_intercept.copy()
    d_coef, d_intercept = r_coef.copy(), r_intercept.copy()
    rr = float(np.sum(r_coef * r_coef)) + float(r_intercept @ r_intercept)
    norm = np.sqrt(rr)
    target = min(0.5, np.sqrt(norm)) * norm
    for _ in range(MAX_CG):
        U = _products(X, d_coef, d_intercept, fit_intercept)
        hd_coef, hd_intercept = _products_t(XT, _hessian_scores(P, weight, U), fit_intercept)
        hd_coef += l2 * d_coef
        curvature = float(np.sum(d_coef * hd_coef)) + float(d_intercept @ hd_intercept)
        if curvature <= 0.0:
            break
        alpha = rr / curvature
        step_coef += alpha * d_coef
        step_intercept += alpha * d_intercept
        step_raw += alpha * U
        r_coef -= alpha * hd_coef
        r_intercept -= alpha * hd_intercept
        rr_new = float(np.sum(r_coef * r_coef)) + float(r_intercept @ r_intercept)
        if np.sqrt(rr_new) <= target:
            break
        beta, rr = rr_new / rr, rr_new
        d_coef = r_coef + beta * d_coef
        d_intercept = r_intercept + beta * d_intercept
    if not step_coef.any() and not step_intercept.any():  # no curvature: gradient step
        step_coef, step_intercept = -grad_coef, -grad_intercept
        step_raw = _products(X, step_coef, step_intercept, fit_intercept)
    return step_coef, step_intercept, step_raw


def _line_search(loss, penalty, coef, step_coef, raw, step_raw, Y, sample_weight, value, slope):
    """Armijo backtracking from the full Newton step; step 0 if nothing decreases."""
    if slope >= 0.0:
        return 0.0, value, raw
    tiny = 64 * np.finfo(float).eps * abs(value)
    step = 1.0
    for _ in range(40):
        new_raw = raw + step * step_raw
        new_coef = coef + step * step_coef
        trial = (
            loss.loss_from_raw(new_raw, Y, sample_weight)
            + penalty.smooth_value_gradient(new_coef)[0]
        )
        if trial <= value + 1e-4 * step * slope or -step * slope <= tiny:
            return step, trial, new_raw
        step *= 0.5
    return 0.0, value, raw
