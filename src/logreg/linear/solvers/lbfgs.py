r"""L-BFGS on the smooth objective (no L1): ``scipy.optimize.minimize(method="L-BFGS-B")``,
10 correction pairs, up to 50 line-search steps.

Stops when the largest entry of the gradient falls below ``tol`` times the largest entry
of the gradient at zero weights (the start of a cold fit).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from logreg.linear.solvers._common import (
    blas_threads,
    check_finite,
    gradient_reference,
    initial_weights,
    limit_blas_threads,
    max_abs,
    progress_bar,
    record_iteration,
    smooth_loss_gradient,
    warn_not_converged,
    warn_stalled,
)


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

    Returns
    -------
    coef, intercept, n_iter, history
        As for :func:`logreg.linear.solvers.gradient_descent.gd`; one history entry per iteration.
    """
    if not penalty.is_smooth:
        raise ValueError(f"lbfgs cannot handle an L1 penalty (l1={penalty.l1})")
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    shape, n_coef = coef.shape, coef.size
    fit_intercept = loss.fit_intercept

    def unpack(x):
        return x[:n_coef].reshape(shape), (x[n_coef:] if fit_intercept else intercept)

    def value_and_gradient(x):
        c, b = unpack(x)
        f, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, c, b, X, Y, sample_weight
        )
        if fit_intercept:
            return f, np.concatenate([grad_coef.ravel(), grad_intercept])
        return f, grad_coef.ravel()

    x0 = np.concatenate([coef.ravel(), intercept]) if fit_intercept else coef.ravel()
    start = value_and_gradient(x0)
    reference = gradient_reference(loss, X, Y, sample_weight, coef0, intercept0, (start[1],))
    first_call = [True]
    threads = blas_threads()
    dense_products = not sp.issparse(X) and threads > 1

    def fun(x):
        # L-BFGS-B evaluates the start point first: reuse the values computed above.
        if first_call[0] and np.array_equal(x, x0):
            first_call[0] = False
            return start[0], start[1].copy()
        first_call[0] = False
        if dense_products:  # the loss's matrix products get their threads back
            with limit_blas_threads(threads):
                return value_and_gradient(x)
        return value_and_gradient(x)

    history = {"loss": []}
    stopped = [False]
    with progress_bar(max_iter, verbose, "lbfgs") as bar:

        def on_iteration(intermediate_result):
            iteration = len(history["loss"]) + 1
            value = float(intermediate_result.fun)
            check_finite(value, "lbfgs", iteration)
            record_iteration(history, bar, value)
            if callback is not None:
                c, b = unpack(intermediate_result.x)
                if callback(iteration, c, b, value):
                    stopped[0] = True
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
                    "gtol": tol * reference,
                    # Stop on the gradient, not on tiny objective changes:
                    # the same choice as scikit-learn's lbfgs.
                    "ftol": 64 * np.finfo(float).eps,
                },
            )
    coef, intercept = unpack(np.asarray(result.x, dtype=np.float64))
    check_finite(float(result.fun), "lbfgs", result.nit)
    if not stopped[0] and result.status != 0:
        detail = (
            f"largest gradient entry {max_abs(result.jac):.3g} > tol * "
            f"{reference:.3g}; scipy: {result.message}"
        )
        if result.status == 1:
            warn_not_converged("lbfgs", max_iter, detail)
        else:
            warn_stalled("lbfgs", int(result.nit), detail)
    if fit_intercept:
        intercept = intercept.copy()
    return coef.copy(), intercept, int(result.nit), history
