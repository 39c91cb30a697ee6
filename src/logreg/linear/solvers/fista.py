r"""FISTA: accelerated proximal gradient (Beck & Teboulle 2009) for
:math:`f + \lambda_1\lVert W\rVert_1`, with backtracking on the step :math:`1/L` that may
also grow again (the step-size adaptation of Scheinberg, Goldfarb & Bai 2014) and the
gradient-based momentum restart of O'Donoghue & Candes (2015).

Stops when the largest entry of the proximal gradient falls below ``tol`` times the
largest entry of the gradient of :math:`f` at zero weights (the start of a cold fit);
when backtracking finds no step that satisfies the sufficient-decrease condition
(``"line search failed"``); or on :class:`~logreg.linear.solvers._common.Stagnation`:
``STALL_WINDOW`` iterations in a row that lower neither the objective beyond its
rounding nor the measure by 1%, so at most ``STALL_WINDOW`` iterations after its last
progress (on the electronics tf-idf vectors with l1 = 1e-4: after 4,750 iterations, at
a relative proximal gradient near 1e-6, where the objective no longer changed in
float64).
"""

from __future__ import annotations

import math

import numpy as np

from logreg.linear.solvers._common import (
    Stagnation,
    check_finite,
    exact_sparse,
    finish,
    gradient_reference,
    initial_weights,
    inner,
    max_abs,
    progress_bar,
    record_iteration,
    relative,
    smooth_loss_gradient,
    smooth_value,
)

STALL_WINDOW = 50
"""Iterations in a row without progress that end a fit."""

STALL_FACTOR = 0.99
"""A measure below this share of its best so far is progress (FISTA's measure falls
slowly and not monotonically, hence 1% rather than the Newton solvers' 10%)."""

MAX_BACKTRACKS = 200
"""Doublings of the Lipschitz estimate per iteration before the line search fails."""


def fista(
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
    lipschitz0=1.0,
):
    """Minimize ``f + l1 ||W||_1`` with FISTA, backtracking and restarts.

    Parameters
    ----------
    loss, penalty, X, Y, sample_weight, coef0, intercept0, max_iter, tol, callback, verbose
        As for :func:`lbfgs`; any ``l1 >= 0`` is allowed.
    lipschitz0 : float
        First guess of the Lipschitz constant of ``grad f``; backtracking corrects it.

    Returns
    -------
    coef, intercept, n_iter, history, convergence
        As for :func:`lbfgs`.
    """
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    X = exact_sparse(X)
    fit_intercept = loss.fit_intercept
    args = (X, Y, sample_weight)
    y_coef, y_intercept = coef.copy(), intercept.copy()
    lipschitz, t = float(lipschitz0), 1.0
    history = {"loss": []}
    # Slack for rounding in the sufficient-decrease test: float64's even for a dense
    # float32 X, whose noisier objective then fails the test and shrinks the step (a
    # float32-sized slack let every step pass, and the steps grew until the iterates
    # oscillated at a relative measure of 1e-3).
    slack = 16 * float(np.finfo(np.float64).eps)
    stagnation = Stagnation(X.dtype, STALL_WINDOW, factor=STALL_FACTOR)
    reason = "max_iter"
    criterion = np.inf
    iteration = 0
    with (
        np.errstate(over="ignore", invalid="ignore"),
        progress_bar(max_iter, verbose, "fista") as bar,
    ):
        f_y, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, y_coef, y_intercept, *args
        )
        reference = gradient_reference(
            loss, X, Y, sample_weight, coef0, intercept0, (grad_coef, grad_intercept)
        )
        for iteration in range(1, max_iter + 1):
            trial = lipschitz * 0.9 if iteration > 1 else lipschitz
            for _ in range(MAX_BACKTRACKS):
                step = 1.0 / trial
                new_coef = penalty.prox(y_coef - step * grad_coef, step)
                new_intercept = (
                    y_intercept - step * grad_intercept if fit_intercept else y_intercept
                )
                d_coef, d_intercept = new_coef - y_coef, new_intercept - y_intercept
                f_new = smooth_value(loss, penalty, new_coef, new_intercept, *args)
                upper = (
                    f_y
                    + inner(grad_coef, d_coef)
                    + inner(grad_intercept, d_intercept)
                    + 0.5 * trial * (inner(d_coef, d_coef) + inner(d_intercept, d_intercept))
                )
                # The slack absorbs rounding once steps are at machine precision.
                if f_new <= upper + slack * abs(f_y):
                    break
                trial *= 2.0
            else:
                iteration -= 1
                reason = "line search failed"
                break
            ratio, lipschitz = trial / lipschitz, trial
            value = f_new + penalty.l1_value(new_coef)
            check_finite(value, "fista", iteration)
            mapping = trial * max_abs(d_coef, d_intercept)
            # Gradient-based restart: the step turned against the momentum direction.
            # (Unlike comparing objective values, rounding noise cannot trigger it.)
            if (
                inner(y_coef - new_coef, new_coef - coef)
                + inner(y_intercept - new_intercept, new_intercept - intercept)
            ) > 0:
                t = 1.0
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * ratio * t * t))
            beta = (t - 1.0) / t_next
            y_coef = new_coef + beta * (new_coef - coef)
            y_intercept = new_intercept + beta * (new_intercept - intercept)
            coef, intercept, t = new_coef, new_intercept, t_next
            record_iteration(history, bar, value)
            if callback is not None and callback(iteration, coef, intercept, value):
                reason = "callback"
                break
            criterion = relative(mapping, reference)
            if (stopped := stagnation.stop(value, criterion, tol)) is not None:
                reason = stopped
                break
            f_y, grad_coef, grad_intercept = smooth_loss_gradient(
                loss, penalty, y_coef, y_intercept, *args
            )
    convergence = finish(
        "fista", n_iter=iteration, max_iter=max_iter, tol=tol, criterion=criterion,
        reason=reason, measure="relative proximal gradient", dtype=X.dtype,
    )  # fmt: skip
    return coef, intercept, iteration, history, convergence
