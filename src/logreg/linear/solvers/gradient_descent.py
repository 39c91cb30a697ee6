r"""Learning-rate solvers: full-batch gradient descent, SGD and mini-batch SGD.

One step from weights :math:`W_t` with learning rate :math:`\eta` and momentum
:math:`\mu` (heavy ball, in its proximal form) is

.. math::

    W_{t+1} = \operatorname{prox}_{\eta\lambda_1\lVert\cdot\rVert_1}\big(
        W_t - \eta \nabla f_B(W_t) + \mu (W_t - W_{t-1})\big),

where :math:`f_B` is the smooth part of the objective on the batch :math:`B` (all
samples for ``gd``, one for ``sgd``, ``batch_size`` for ``minibatch``) and the prox is
soft-thresholding, so L1 and ElasticNet give exact zeros. The intercept takes the
same step without prox. The learning rate of epoch :math:`t` (counted from 0) is
``lr`` (``"constant"``), ``lr / (1 + decay * t)`` (``"invscaling"``) or
``lr * decay ** t`` (``"exponential"``).

Stopping: ``gd`` is deterministic and stops when the largest entry of the proximal
gradient :math:`(W - \operatorname{prox}(W - \eta\nabla f(W)))/\eta` (and of the
intercept gradient) falls below ``tol`` times the largest gradient entry at zero weights
(the start of a cold fit); when a step no longer changes any weight (a step below the
precision of the weights); or on
:class:`~logreg.linear.solvers._common.Stagnation`: ``STALL_WINDOW`` epochs in a row
that lower neither the objective beyond its rounding nor the measure by 1%, that is at
most ``STALL_WINDOW`` epochs after its last progress.
The stochastic solvers stop when the epoch's objective changed by less than ``tol``
relative to the previous epoch's, :math:`|J_{t-1} - J_t| \le tol \cdot |J_{t-1}|`, or
at ``max_iter`` (their steps are noisy by design: no stagnation test).
"""

from __future__ import annotations

import numpy as np

from logreg.linear.solvers._common import (
    Stagnation,
    check_diverged,
    check_finite,
    finish,
    gradient_reference,
    initial_weights,
    limit_blas_threads,
    max_abs,
    objective,
    precise_data,
    progress_bar,
    record_iteration,
    relative,
    smooth_loss_gradient,
)
from logreg.linear.solvers.newton_cd import kkt_violation

LR_SCHEDULES = ("constant", "invscaling", "exponential")

STALL_WINDOW = 50
"""Epochs of ``gd`` in a row without progress that end a fit."""

STALL_FACTOR = 0.99
"""A measure below this share of its best so far is progress for ``gd``: its measure
falls by a constant factor per epoch, often less than 10% (the Newton solvers' share)."""


def learning_rate(lr: float, schedule: str, decay: float, epoch: int) -> float:
    """Learning rate of epoch ``epoch`` (0-based) under ``schedule``."""
    if schedule == "constant":
        return lr
    if schedule == "invscaling":
        return lr / (1.0 + decay * epoch)
    if schedule == "exponential":
        return lr * decay**epoch
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


class _Stepper:
    """Proximal heavy-ball step shared by the three solvers (updates in place)."""

    def __init__(self, penalty, coef, intercept, momentum):
        self.penalty, self.momentum = penalty, momentum
        self.coef, self.intercept = coef, intercept
        if momentum:
            self.prev_coef, self.prev_intercept = coef.copy(), intercept.copy()

    def step(self, grad_coef, grad_intercept, eta, check=False):
        """One step; with ``check``, returns whether it changed any weight."""
        new_coef = self.coef - eta * grad_coef
        new_intercept = self.intercept - eta * grad_intercept
        if self.momentum:
            new_coef += self.momentum * (self.coef - self.prev_coef)
            new_intercept += self.momentum * (self.intercept - self.prev_intercept)
            self.prev_coef[...] = self.coef
            self.prev_intercept[...] = self.intercept
        new_coef = self.penalty.prox(new_coef, eta)
        moved = check and not (
            np.array_equal(new_coef, self.coef) and np.array_equal(new_intercept, self.intercept)
        )
        self.coef[...] = new_coef
        self.intercept[...] = new_intercept
        return moved


def gd(
    loss,
    penalty,
    X,
    Y,
    sample_weight=None,
    *,
    coef0=None,
    intercept0=None,
    lr=0.1,
    lr_schedule="constant",
    decay=0.9,
    momentum=0.0,
    max_iter=100,
    tol=1e-4,
    callback=None,
    verbose=0,
):
    """Full-batch (proximal) gradient descent; one epoch is one step.

    Parameters
    ----------
    loss : BinaryCrossEntropy or MultinomialCrossEntropy
    penalty : ElasticNet
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K)
        Targets as made by :func:`logreg.linear.loss.one_hot`.
    sample_weight : ndarray of shape (n_samples,) or None
        Normalized to mean 1 by the caller (the objective averages ``s_i * CE_i``).
    coef0 : ndarray of shape (K, n_features) or None
        Starting weights; zeros when None. Likewise ``intercept0`` of shape (K,).
    lr, lr_schedule, decay, momentum : float, str, float, float
        Step size and its schedule (see the module docstring).
    max_iter : int
        Maximum number of epochs.
    tol : float
        Relative tolerance of the stopping rule.
    callback : callable or None
        ``callback(epoch, coef, intercept, objective) -> bool``; True stops.
    verbose : int
        ``>= 1`` shows a progress bar.

    Returns
    -------
    coef : ndarray of shape (K, n_features)
    intercept : ndarray of shape (K,)
    n_iter : int
        Epochs run.
    history : dict
        ``{"loss": [J after each epoch]}``.
    convergence : Convergence
        How it stopped (:class:`logreg.linear.solvers._common.Convergence`).
    """
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    X = precise_data(X, tol)
    stepper = _Stepper(penalty, coef, intercept, momentum)
    history = {"loss": []}
    stagnation = Stagnation(X.dtype, STALL_WINDOW, factor=STALL_FACTOR)
    reason = "max_iter"
    criterion = np.inf
    epoch = 0
    # Overflow in a diverging run is reported by check_finite with the learning rate,
    # so numpy's own warnings would only repeat it less clearly.
    with np.errstate(over="ignore", invalid="ignore"), progress_bar(max_iter, verbose, "gd") as bar:
        f, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, coef, intercept, X, Y, sample_weight
        )
        reference = gradient_reference(
            loss, X, Y, sample_weight, coef0, intercept0, (grad_coef, grad_intercept)
        )
        initial = f + penalty.l1_value(coef)
        for epoch in range(1, max_iter + 1):
            eta = learning_rate(lr, lr_schedule, decay, epoch - 1)
            if not stepper.step(grad_coef, grad_intercept, eta, check=True):
                # The step rounded away: the measure from the weights' difference would
                # be 0, so take it from the gradient (the step-size limit of the same).
                epoch -= 1
                criterion = relative(
                    max_abs(kkt_violation(coef, grad_coef, penalty.l1), grad_intercept), reference
                )
                reason = (
                    "tol"
                    if criterion <= tol
                    else "stagnation: a step changed no weight (below their precision)"
                )
                break
            f, grad_coef, grad_intercept = smooth_loss_gradient(
                loss, penalty, coef, intercept, X, Y, sample_weight
            )
            value = f + penalty.l1_value(coef)
            check_diverged(value, initial, "gd", epoch, lr)
            record_iteration(history, bar, value)
            if callback is not None and callback(epoch, coef, intercept, value):
                reason = "callback"
                break
            prox_grad = (coef - penalty.prox(coef - eta * grad_coef, eta)) / eta
            criterion = relative(max_abs(prox_grad, grad_intercept), reference)
            if (stopped := stagnation.stop(value, criterion, tol)) is not None:
                reason = stopped
                break
    convergence = finish(
        "gd", n_iter=epoch, max_iter=max_iter, tol=tol, criterion=criterion, reason=reason,
        measure="relative proximal gradient", dtype=X.dtype,
    )  # fmt: skip
    return coef, intercept, epoch, history, convergence


def minibatch(
    loss,
    penalty,
    X,
    Y,
    sample_weight=None,
    *,
    rng,
    batch_size=32,
    coef0=None,
    intercept0=None,
    lr=0.1,
    lr_schedule="constant",
    decay=0.9,
    momentum=0.0,
    max_iter=100,
    tol=1e-4,
    callback=None,
    verbose=0,
    solver_name="minibatch",
):
    """Mini-batch (proximal) SGD, samples reshuffled every epoch.

    Parameters are those of :func:`gd`, plus:

    rng : numpy.random.Generator
        The only source of randomness (the shuffling).
    batch_size : int
        Samples per step; the last batch of an epoch may be smaller.

    Returns
    -------
    coef, intercept, n_iter, history, convergence
        As for :func:`gd`; the ``criterion`` of ``convergence`` is the relative change
        of the objective over the last epoch.
    """
    n_samples = X.shape[0]
    coef, intercept = initial_weights(coef0, intercept0, Y.shape[1], X.shape[1])
    stepper = _Stepper(penalty, coef, intercept, momentum)
    history = {"loss": []}
    reason = "max_iter"
    relative_change = np.inf
    epoch = 0
    with (
        np.errstate(over="ignore", invalid="ignore"),
        progress_bar(max_iter, verbose, solver_name) as bar,
    ):
        previous = initial = objective(loss, penalty, coef, intercept, X, Y, sample_weight)
        for epoch in range(1, max_iter + 1):
            eta = learning_rate(lr, lr_schedule, decay, epoch - 1)
            order = rng.permutation(n_samples)
            # A batch's products are too small to gain from BLAS threads, and waking
            # them costs milliseconds per product when the cores are busy.
            with limit_blas_threads(1):
                for start in range(0, n_samples, batch_size):
                    index = order[start : start + batch_size]
                    batch_loss, grad_coef, grad_intercept = smooth_loss_gradient(
                        loss,
                        penalty,
                        coef,
                        intercept,
                        X[index],
                        Y[index],
                        None if sample_weight is None else sample_weight[index],
                    )
                    # Checked per step: a divergence is reported in the epoch it happens.
                    check_finite(batch_loss, solver_name, epoch, lr)
                    stepper.step(grad_coef, grad_intercept, eta)
            value = objective(loss, penalty, coef, intercept, X, Y, sample_weight)
            check_diverged(value, initial, solver_name, epoch, lr)
            record_iteration(history, bar, value)
            change = abs(previous - value)
            if previous:
                relative_change = change / abs(previous)
            else:
                relative_change = 0.0 if change == 0 else np.inf
            previous = value
            if callback is not None and callback(epoch, coef, intercept, value):
                reason = "callback"
                break
            if relative_change <= tol:
                reason = "tol"
                break
    convergence = finish(
        solver_name, n_iter=epoch, max_iter=max_iter, tol=tol, criterion=relative_change,
        reason=reason, measure="relative change of the objective over the last epoch",
        dtype=X.dtype,
    )  # fmt: skip
    return coef, intercept, epoch, history, convergence


def sgd(loss, penalty, X, Y, sample_weight=None, *, rng, **kwargs):
    """Stochastic gradient descent: :func:`minibatch` with one sample per step.

    Takes the arguments of :func:`minibatch` except ``batch_size``.
    """
    return minibatch(
        loss, penalty, X, Y, sample_weight, rng=rng, batch_size=1, solver_name="sgd", **kwargs
    )
