r"""What every solver shares: the objective, stopping rules, warnings, divergence checks.

Every solver minimizes the penalized objective

.. math::

    J(W, b) = \underbrace{L(W, b) + \tfrac{\lambda_2}{2}\lVert W\rVert^2}_{f\ (\text{smooth})}
              + \underbrace{\lambda_1 \lVert W \rVert_1}_{g\ (\text{prox})},

with the data term :math:`L` of :mod:`logreg.linear.loss` and the penalty of
:mod:`logreg.linear.penalties`. Solvers take explicit arguments and return
``(coef, intercept, n_iter, history)`` where ``history["loss"]`` holds :math:`J` after
each epoch (iteration for ``lbfgs`` and ``fista``).

A solver calls ``callback(epoch, coef, intercept, objective)`` after every epoch
(``epoch`` counts from 1; ``coef`` and ``intercept`` may be views the solver keeps
updating, so copy them to keep them); a true return value stops it, and then no
:class:`ConvergenceWarning` is issued.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from logreg.linear.exceptions import ConvergenceWarning, TrainingDivergedError

log = logging.getLogger(__name__)


def initial_weights(coef0, intercept0, n_outputs: int, n_features: int):
    """Float64 copies of the starting weights; ``None`` means zeros.

    Returns
    -------
    coef : ndarray of shape (n_outputs, n_features)
    intercept : ndarray of shape (n_outputs,)
    """
    coef = (
        np.zeros((n_outputs, n_features))
        if coef0 is None
        else np.array(coef0, dtype=np.float64).reshape(n_outputs, n_features)
    )
    intercept = (
        np.zeros(n_outputs)
        if intercept0 is None
        else np.array(intercept0, dtype=np.float64).reshape(n_outputs)
    )
    return coef, intercept


def smooth_loss_gradient(loss, penalty, coef, intercept, X, Y, sample_weight):
    """The smooth part ``f = L + (l2/2)||W||^2`` and its gradient.

    Returns
    -------
    f : float
    grad_coef : ndarray of shape (K, n_features)
    grad_intercept : ndarray of shape (K,)
    """
    value, grad_coef, grad_intercept = loss.loss_gradient(coef, intercept, X, Y, sample_weight)
    if penalty.l2:
        l2_value, l2_grad = penalty.smooth_value_gradient(coef)
        value += l2_value
        grad_coef += l2_grad
    return value, grad_coef, grad_intercept


def smooth_value(loss, penalty, coef, intercept, X, Y, sample_weight) -> float:
    """The smooth part ``f`` alone (one product with ``X``, no gradient)."""
    value = loss.loss(coef, intercept, X, Y, sample_weight)
    if penalty.l2:
        value += penalty.smooth_value_gradient(coef)[0]
    return value


def objective(loss, penalty, coef, intercept, X, Y, sample_weight) -> float:
    """The whole objective :math:`J(W, b)` (float)."""
    return smooth_value(loss, penalty, coef, intercept, X, Y, sample_weight) + penalty.l1_value(
        coef
    )


def exact_sparse(X):
    """``X`` itself, or a float64 copy of a float32 sparse ``X``.

    The loss computes its products with float32 ``X`` in float32, with the weights
    rounded to float32 (relative error ~6e-8). That suffices for L-BFGS on L2 fits, but
    not for methods that compare objective values to decide a step (FISTA's
    backtracking, a Newton line search) or stop on small optimality violations: past a
    relative gap of about 1e-4 they see rounding instead of progress and stall (FISTA
    on the electronics L1 problem froze at a gap of 1.05e-4 with float32 products and
    reached 2.5e-8 in as many iterations with float64 ones). A sparse matrix's float64
    copy costs 8 bytes per stored entry, so these solvers make it; a dense float32
    ``X`` (FER2013) is left alone: there the copy would double the memory of the fit.
    """
    if sp.issparse(X) and X.dtype != np.float64:
        return X.astype(np.float64)
    return X


def gradient_reference(loss, X, Y, sample_weight, coef0, intercept0, start_gradients) -> float:
    """The scale of the solvers' relative ``tol``: the largest entry of the gradient of
    ``f`` at zero weights and intercepts.

    A cold start (``coef0`` and ``intercept0`` None) starts there, so its gradient,
    ``start_gradients``, is used without another pass over ``X``; a warm start costs
    one pass at zero. Either way ``tol`` means the same, whatever the start point
    (measured from the start, a warm start close to the optimum would ask for a far
    smaller gradient).
    """
    if coef0 is None and intercept0 is None:
        return max_abs(*start_gradients)
    K = Y.shape[1]
    zeros = np.zeros((K, X.shape[1])), np.zeros(K)
    return max_abs(*loss.loss_gradient(*zeros, X, Y, sample_weight)[1:])


def max_abs(*arrays) -> float:
    """Largest absolute entry over all arrays (0.0 when all are empty)."""
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def inner(a, b) -> float:
    """Sum of the elementwise products of two arrays of one shape.

    Computed by numpy's own loops, not BLAS: a threaded BLAS dot on more than 10,000
    entries waits milliseconds for OpenBLAS to wake its threads when the cores are
    busy, a hundred times the work itself.
    """
    return float(np.sum(a * b))


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def blas_threads() -> int:
    """Number of threads the loaded BLAS libraries use now (the largest)."""
    blas = _blas_controller().select(user_api="blas")
    return max((lib.num_threads for lib in blas.lib_controllers), default=1)


def limit_blas_threads(n_threads: int):
    """Context manager: BLAS runs on at most ``n_threads`` threads inside it."""
    return _blas_controller().limit(limits=n_threads, user_api="blas")


def check_finite(value: float, solver: str, epoch: int, lr: float | None = None) -> None:
    """Raise :class:`TrainingDivergedError` if the objective is NaN or infinite.

    The message names the learning rate and suggests a smaller one when the solver
    has a learning rate.
    """
    if math.isfinite(value):
        return
    if lr is None:
        raise TrainingDivergedError(
            f"{solver}: the objective became {value} at iteration {epoch}; "
            "check the input data for extreme values"
        )
    raise TrainingDivergedError(
        f"{solver}: training diverged in epoch {epoch}: the objective became {value} "
        f"with learning rate lr={lr:g}; use a smaller learning rate, "
        f"e.g. lr={lr / 10:g}"
    )


# A step-size method whose objective ends an epoch this many times above where it started
# (gd with lr=1 on unscaled data can reach ~350x and still recover, hence the margin)
# is not converging: with a huge learning rate the cross-entropy grows linearly with the
# weights and can stay finite for a long time, so "non-finite" alone would catch it late.
DIVERGENCE_FACTOR = 1e4


def check_diverged(value: float, initial: float, solver: str, epoch: int, lr: float) -> None:
    """Raise :class:`TrainingDivergedError` if the objective is non-finite or has grown
    beyond ``DIVERGENCE_FACTOR`` times its value before the first step."""
    check_finite(value, solver, epoch, lr)
    if value > DIVERGENCE_FACTOR * max(initial, 1e-12):
        raise TrainingDivergedError(
            f"{solver}: training diverged in epoch {epoch}: the objective grew from "
            f"{initial:.4g} to {value:.4g} with learning rate lr={lr:g}; use a smaller "
            f"learning rate, e.g. lr={lr / 10:g}"
        )


def warn_not_converged(solver: str, n_iter: int, detail: str) -> None:
    """Issue the :class:`ConvergenceWarning` of a solver stopped by ``max_iter``."""
    message = (
        f"{solver} did not converge in max_iter={n_iter} iterations ({detail}); "
        "increase max_iter, loosen tol, or scale the features"
    )
    log.debug(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def warn_stalled(solver: str, n_iter: int, detail: str) -> None:
    """Issue the :class:`ConvergenceWarning` of a solver that could not progress."""
    message = (
        f"{solver} stopped after {n_iter} iterations without meeting tol "
        f"({detail}); the objective could not be decreased further, usually "
        "the limit of floating-point precision: loosen tol or scale the features"
    )
    log.debug(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def record_iteration(history: dict, bar, value: float) -> None:
    """Append an iteration's objective to ``history["loss"]`` and show it on ``bar``."""
    history["loss"].append(value)
    bar.update()
    bar.set_postfix(loss=f"{value:.5g}", refresh=False)


def progress_bar(total: int, verbose: int, solver: str):
    """A tqdm bar over epochs, shown when ``verbose >= 1`` and stderr is a terminal."""
    return tqdm(
        total=total, desc=solver, unit="epoch", disable=True if verbose < 1 else None, leave=False
    )
