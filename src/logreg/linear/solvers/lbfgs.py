r"""L-BFGS on the smooth objective (no L1): ``scipy.optimize.minimize(method="L-BFGS-B")``,
10 correction pairs, up to 50 line-search steps.

Stops when the largest entry of the gradient falls below ``tol`` times the largest entry
of the gradient at zero weights (the start of a cold fit). scipy may stop first: on its
``ftol`` (``FTOL``: an iteration that did not lower the objective at all; its line
search compares objective values, so L-BFGS goes no further than the objective
resolves, a relative gradient near 1e-9 on small float64 problems and 1e-7 on the
electronics tf-idf vectors) or when its line search fails. And
:class:`~logreg.linear.solvers._common.Stagnation` stops it ``STALL_WINDOW`` iterations
after the last that lowered the objective or the relative gradient by 10% (with
float32 products the objective's noise can keep scipy going). Each of these stops
without meeting ``tol`` issues a :class:`~logreg.linear.solvers.ConvergenceWarning`
that says which.

``precondition="covariance"`` runs L-BFGS on the weights transformed by the Cholesky
factor of the features' second moment
(:mod:`logreg.linear.solvers.preconditioner`): the same objective and optimum, reached
in far fewer iterations on correlated dense features.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from logreg.linear.solvers._common import (
    Stagnation,
    blas_threads,
    check_finite,
    finish,
    gradient_reference,
    initial_weights,
    limit_blas_threads,
    max_abs,
    precise_data,
    progress_bar,
    record_iteration,
    relative,
    smooth_loss_gradient,
)
from logreg.linear.solvers.preconditioner import PRECONDITIONERS, covariance_preconditioner
from logreg.linear.streamed import sparse_like

STALL_WINDOW = 10
"""L-BFGS iterations in a row without progress that end a fit."""

FLOAT32_TOL = 1e-4
"""The smallest ``tol`` met with float32 products; below it a sparse float32 ``X`` is
copied to float64. L-BFGS's line search compares objective values, and with float32
products on the electronics tf-idf vectors it stalled at a relative gradient of 3e-4
to 8e-4 (7e-5 was reached, 1e-5 never); on the float64 copy it reached 5e-7 in 30
iterations."""

FTOL = 0.0
"""scipy's ``ftol``: 0 stops only on an iteration that did not lower the objective at all.

Stop on the gradient, not on tiny objective changes: scikit-learn's 64 ulps stopped
L-BFGS at a relative gradient near 3e-7 on small problems whatever ``tol`` asked (the
objective's changes fall below 64 ulps while the gradient can still fall 100-fold);
:class:`~logreg.linear.solvers._common.Stagnation` (which also watches the gradient) ends
the fit when rounding has the last word."""


def lbfgs(
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
    precondition="none",
):
    """Minimize the smooth objective with L-BFGS.

    Parameters
    ----------
    loss : BinaryCrossEntropy or MultinomialCrossEntropy
    penalty : ElasticNet
        Must have ``l1 == 0``.
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K)
    sample_weight : ndarray of shape (n_samples,) or None
    coef0, intercept0 : ndarray of shape (K, n_features) and (K,), or None (zeros)
    max_iter : int
        Maximum number of L-BFGS iterations.
    tol : float
        Stop when ``max|grad J| <= tol * max|grad f(0)|`` (the gradient at zero
        weights and intercepts, where a cold fit starts).
    callback : callable or None
        ``callback(iteration, coef, intercept, objective) -> bool``; True stops.
    verbose : int
        ``>= 1`` shows a progress bar.
    precondition : {"none", "covariance"}
        ``"covariance"``: iterate on ``V = W L`` with ``L L^T`` the (ridged) second
        moment of dense ``X``; ``tol`` is still measured on the gradient in ``W``.

    Returns
    -------
    coef, intercept, n_iter, history
        As for :func:`logreg.linear.solvers.gradient_descent.gd`; one history entry per
        iteration.
    convergence : Convergence
        How it stopped; its ``criterion`` is ``max|grad J| / max|grad f(0)|``.
    """
    if not penalty.is_smooth:
        raise ValueError(f"lbfgs cannot handle an L1 penalty (l1={penalty.l1})")
    if precondition not in PRECONDITIONERS:
        raise ValueError(f"precondition must be one of {PRECONDITIONERS}, got {precondition!r}")
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    X = precise_data(X, tol, FLOAT32_TOL)
    shape, n_coef = coef.shape, coef.size
    fit_intercept = loss.fit_intercept
    preconditioner = None
    if precondition == "covariance":
        with limit_blas_threads(blas_threads()):
            preconditioner = covariance_preconditioner(X)

    def unpack(x):
        c = x[:n_coef].reshape(shape)
        if preconditioner is not None:
            c = preconditioner.coef(c)
        return c, (x[n_coef:] if fit_intercept else intercept)

    def value_and_gradient(x):
        """The objective, its gradient in the variables, and its gradient in W."""
        c, b = unpack(x)
        f, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, c, b, X, Y, sample_weight
        )
        grad_w = grad_coef.ravel()
        if fit_intercept:
            grad_w = np.concatenate([grad_w, grad_intercept])
        if preconditioner is None:
            return f, grad_w, grad_w
        grad_v = preconditioner.gradient(grad_coef).ravel()
        grad_v = np.concatenate([grad_v, grad_intercept]) if fit_intercept else grad_v
        return f, grad_v, grad_w

    variables = coef if preconditioner is None else preconditioner.variables(coef)
    x0 = np.concatenate([variables.ravel(), intercept]) if fit_intercept else variables.ravel()
    start = value_and_gradient(x0)
    reference = gradient_reference(loss, X, Y, sample_weight, coef0, intercept0, (start[2],))
    first_call = [True]
    # The last point evaluated and its gradient in W: scipy's iteration callback gets the
    # accepted point only, whose gradient is the last one computed.
    last = [x0, start[2]]
    threads = blas_threads()
    dense_products = not sparse_like(X) and threads > 1

    def fun(x):
        # L-BFGS-B evaluates the start point first: reuse the values computed above.
        if first_call[0] and np.array_equal(x, x0):
            first_call[0] = False
            return start[0], start[1].copy()
        first_call[0] = False
        if dense_products:  # the loss's matrix products get their threads back
            with limit_blas_threads(threads):
                f, grad, grad_w = value_and_gradient(x)
        else:
            f, grad, grad_w = value_and_gradient(x)
        last[:] = [x.copy(), grad_w]
        return f, grad

    def measure_at(x):
        if np.array_equal(x, last[0]):
            return relative(max_abs(last[1]), reference)
        return relative(max_abs(value_and_gradient(x)[2]), reference)

    history = {"loss": []}
    stagnation = Stagnation(X.dtype, STALL_WINDOW)
    stop = [None]  # why our callback stopped scipy: "callback" or the stagnation
    with progress_bar(max_iter, verbose, "lbfgs") as bar:

        def on_iteration(intermediate_result):
            iteration = len(history["loss"]) + 1
            value = float(intermediate_result.fun)
            check_finite(value, "lbfgs", iteration)
            record_iteration(history, bar, value)
            if callback is not None:
                c, b = unpack(intermediate_result.x)
                if callback(iteration, c, b, value):
                    stop[0] = "callback"
                    raise StopIteration
            criterion = measure_at(intermediate_result.x)
            if preconditioner is not None and criterion <= tol:
                raise StopIteration  # scipy's gtol measures the gradient in V, not in W
            if stagnation.update(value, criterion):
                stop[0] = stagnation.reason
                raise StopIteration

        # scipy's L-BFGS-B makes dozens of BLAS calls per iteration on vectors of all
        # the weights. With several threads each call waits for OpenBLAS to wake
        # them, milliseconds when the cores are busy (parallel workflow jobs), and
        # L-BFGS-B alone then takes 10 to 100 times as long as the loss: one thread.
        with limit_blas_threads(1):
            result = scipy.optimize.minimize(
                fun,
                x0,
                jac=True,
                method="L-BFGS-B",
                callback=on_iteration,
                options={
                    "maxiter": max_iter,
                    "maxls": 50,
                    "gtol": tol * reference if preconditioner is None else 0.0,
                    "ftol": FTOL,
                },
            )
    x = np.asarray(result.x, dtype=np.float64)
    coef, intercept = unpack(x)
    coef = np.ascontiguousarray(coef)
    check_finite(float(result.fun), "lbfgs", result.nit)
    criterion = measure_at(x)
    if criterion <= tol:
        reason = "tol"
    elif stop[0] is not None:
        reason = stop[0]
    elif result.status == 1:
        reason = "max_iter"
    elif result.status == 0:
        reason = (
            "stagnation: scipy's L-BFGS-B stopped on its ftol (an iteration that did not "
            "lower the objective, computed in float64)"
        )
    else:
        reason = "line search failed"
    convergence = finish(
        "lbfgs", n_iter=int(result.nit), max_iter=max_iter, tol=tol, criterion=criterion,
        reason=reason, measure="relative gradient", dtype=X.dtype,
        detail=f"scipy: {result.message}",
    )  # fmt: skip
    if fit_intercept:
        intercept = intercept.copy()
    return coef.copy(), intercept, int(result.nit), history, convergence
