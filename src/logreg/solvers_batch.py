r"""Fast full-batch solvers that reach the exact optimum: L-BFGS and FISTA.

* ``lbfgs``: quasi-Newton L-BFGS (``scipy.optimize.minimize(method="L-BFGS-B")``,
  10 correction pairs, up to 50 line-search steps) on the smooth objective; no L1.
* ``fista``: accelerated proximal gradient (Beck & Teboulle 2009) for
  :math:`f + \lambda_1\lVert W\rVert_1`, with backtracking on the step :math:`1/L`
  that may also grow again (the step-size adaptation of Scheinberg, Goldfarb & Bai
  2014) and the gradient-based momentum restart of O'Donoghue & Candes (2015).

Both stop when the largest entry of the (proximal) gradient falls below ``tol`` times
the largest entry of the gradient of :math:`f` at the starting point.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from logreg.solvers_common import (
    blas_threads,
    check_finite,
    initial_weights,
    inner,
    limit_blas_threads,
    max_abs,
    progress_bar,
    record_iteration,
    smooth_loss_gradient,
    smooth_value,
    warn_not_converged,
    warn_stalled,
)


def lbfgs(loss, penalty, X, Y, sample_weight=None, *, coef0=None, intercept0=None,
          max_iter=100, tol=1e-4, callback=None, verbose=0):
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
        Stop when ``max|grad J| <= tol * max|grad J(start)|``.
    callback : callable or None
        ``callback(iteration, coef, intercept, objective) -> bool``; True stops.
    verbose : int
        ``>= 1`` shows a progress bar.

    Returns
    -------
    coef, intercept, n_iter, history
        As for :func:`logreg.solvers_sgd.gd`; one history entry per iteration.
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
            loss, penalty, c, b, X, Y, sample_weight)
        if fit_intercept:
            return f, np.concatenate([grad_coef.ravel(), grad_intercept])
        return f, grad_coef.ravel()

    x0 = np.concatenate([coef.ravel(), intercept]) if fit_intercept else coef.ravel()
    start = value_and_gradient(x0)
    reference = max_abs(start[1])
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
                fun, x0, jac=True, method="L-BFGS-B", callback=on_iteration,
                options={"maxiter": max_iter, "maxls": 50, "gtol": tol * reference,
                         # Stop on the gradient, not on tiny objective changes:
                         # the same choice as scikit-learn's lbfgs.
                         "ftol": 64 * np.finfo(float).eps})
    coef, intercept = unpack(np.asarray(result.x, dtype=np.float64))
    check_finite(float(result.fun), "lbfgs", result.nit)
    if not stopped[0] and result.status != 0:
        detail = (f"largest gradient entry {max_abs(result.jac):.3g} > tol * "
                  f"{reference:.3g}; scipy: {result.message}")
        if result.status == 1:
            warn_not_converged("lbfgs", max_iter, detail)
        else:
            warn_stalled("lbfgs", int(result.nit), detail)
    if fit_intercept:
        intercept = intercept.copy()
    return coef.copy(), intercept, int(result.nit), history


def fista(loss, penalty, X, Y, sample_weight=None, *, coef0=None, intercept0=None,
          max_iter=100, tol=1e-4, callback=None, verbose=0, lipschitz0=1.0):
    """Minimize ``f + l1 ||W||_1`` with FISTA, backtracking and restarts.

    Parameters
    ----------
    loss, penalty, X, Y, sample_weight, coef0, intercept0, max_iter, tol, callback, verbose
        As for :func:`lbfgs`; any ``l1 >= 0`` is allowed.
    lipschitz0 : float
        First guess of the Lipschitz constant of ``grad f``; backtracking corrects it.

    Returns
    -------
    coef, intercept, n_iter, history
        As for :func:`lbfgs`.
    """
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    fit_intercept = loss.fit_intercept
    args = (X, Y, sample_weight)
    y_coef, y_intercept = coef.copy(), intercept.copy()
    lipschitz, t = float(lipschitz0), 1.0
    history = {"loss": []}
    converged = stopped = False
    iteration = 0
    with np.errstate(over="ignore", invalid="ignore"), \
            progress_bar(max_iter, verbose, "fista") as bar:
        f_y, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, y_coef, y_intercept, *args)
        reference = max_abs(grad_coef, grad_intercept)
        for iteration in range(1, max_iter + 1):
            trial = lipschitz * 0.9 if iteration > 1 else lipschitz
            for _ in range(200):
                step = 1.0 / trial
                new_coef = penalty.prox(y_coef - step * grad_coef, step)
                new_intercept = (y_intercept - step * grad_intercept if fit_intercept
                                 else y_intercept)
                d_coef, d_intercept = new_coef - y_coef, new_intercept - y_intercept
                f_new = smooth_value(loss, penalty, new_coef, new_intercept, *args)
                upper = (f_y + inner(grad_coef, d_coef)
                         + inner(grad_intercept, d_intercept)
                         + 0.5 * trial * (inner(d_coef, d_coef)
                                          + inner(d_intercept, d_intercept)))
                # The slack absorbs rounding once steps are at machine precision.
                if f_new <= upper + 16 * np.finfo(float).eps * abs(f_y):
                    break
                trial *= 2.0
            ratio, lipschitz = trial / lipschitz, trial
            value = f_new + penalty.l1_value(new_coef)
            check_finite(value, "fista", iteration)
            mapping = trial * max_abs(d_coef, d_intercept)
            # Gradient-based restart: the step turned against the momentum direction.
            # (Unlike comparing objective values, rounding noise cannot trigger it.)
            if (inner(y_coef - new_coef, new_coef - coef)
                    + inner(y_intercept - new_intercept, new_intercept - intercept)) > 0:
                t = 1.0
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * ratio * t * t))
            beta = (t - 1.0) / t_next
            y_coef = new_coef + beta * (new_coef - coef)
            y_intercept = new_intercept + beta * (new_intercept - intercept)
            coef, intercept, t = new_coef, new_intercept, t_next
            record_iteration(history, bar, value)
            if callback is not None and callback(iteration, coef, intercept, value):
                stopped = True
                break
            if mapping <= tol * reference:
                converged = True
                break
            f_y, grad_coef, grad_intercept = smooth_loss_gradient(
                loss, penalty, y_coef, y_intercept, *args)
    if not (converged or stopped):
        warn_not_converged("fista", max_iter, f"largest proximal gradient entry "
                           f"{mapping:.3g} > tol * {reference:.3g}")
    return coef, intercept, iteration, history
