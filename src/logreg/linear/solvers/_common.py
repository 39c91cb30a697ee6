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

How a solver stopped is its :class:`Convergence`, the fifth value it returns: the
stopping measure it reached (on the scale of ``tol``) and the reason. A deterministic
solver stops for one of these reasons:

``"tol"``
    the measure is at most ``tol`` (converged);
``"max_iter"``
    ``max_iter`` iterations ran first;
``"stagnation: ..."``
    :class:`Stagnation`: for a few iterations in a row the arithmetic resolved neither
    a lower objective nor a smaller measure (or the step no longer changed the
    weights), so more iterations cannot meet ``tol``;
``"line search failed"``
    no step along the search direction lowered the objective;
``"callback"``
    the callback returned True.

Every reason but ``"tol"`` and ``"callback"`` issues one :class:`ConvergenceWarning` that
names the measure reached, ``tol`` and why the solver could not go further.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import warnings

import numpy as np
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from logreg.linear.exceptions import ConvergenceWarning, TrainingDivergedError
from logreg.linear.streamed import sparse_like

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


FLOAT32_TOL = 1e-6
"""The smallest ``tol`` that products in float32 are trusted to meet.

The gradient of a fit whose products with ``X`` run in float32 is exact to about the
float32 rounding of those products: its relative stopping measure levels off near
3e-8 on small synthetic problems and between 1e-8 and 1e-7 on the electronics tf-idf
vectors (issue 22), where Newton-CG then made 20,000 useless iterations at tol 1e-8.
Below this ``tol`` the solvers that compute in ``X``'s dtype work on a float64 copy of a
sparse float32 ``X`` (:func:`precise_data`).
"""


def precise_data(X, tol: float, float32_tol: float = FLOAT32_TOL):
    """``X``, or a float64 copy of a sparse float32 ``X`` when ``tol < float32_tol``.

    ``float32_tol`` is the smallest ``tol`` the solver meets with float32 products:
    :data:`FLOAT32_TOL`, or more for a solver whose line search compares objective
    values (lbfgs). A sparse copy costs 8 bytes per stored entry and makes the products
    slower, a price worth paying only when ``tol`` asks for more than float32 resolves.
    A dense float32 ``X`` is left alone, whatever ``tol``: its copy would double the
    memory of a fit on FER2013-sized data; such a fit stops by :class:`Stagnation`, with
    a warning that names float32 as the limit.
    """
    if tol < float32_tol:
        return exact_sparse(X)
    return X


@dataclasses.dataclass(frozen=True)
class Convergence:
    """How a solver stopped.

    Attributes
    ----------
    converged : bool
        ``criterion <= tol``.
    criterion : float
        The stopping measure the solver reached, on the scale of ``tol``: the largest
        (proximal) gradient entry or optimality violation divided by the largest
        gradient entry at zero weights, or, for ``sgd`` and ``minibatch``, the relative
        change of the objective over the last epoch.
    tol : float
        The tolerance the solver was given.
    reason : str
        ``"tol"``, ``"max_iter"``, ``"stagnation: <why>"``, ``"line search failed"``,
        ``"callback"`` (the estimators report ``"early_stopping"`` instead).
    measure : str
        What ``criterion`` measures, e.g. ``"relative gradient"``.
    """

    converged: bool
    criterion: float
    tol: float
    reason: str
    measure: str

    def as_dict(self) -> dict:
        """Plain-Python values (for JSON and MLflow)."""
        return {
            "converged": bool(self.converged),
            "criterion": float(self.criterion),
            "tol": float(self.tol),
            "reason": str(self.reason),
            "measure": str(self.measure),
        }


class Stagnation:
    """Tells a deterministic solver when the arithmetic no longer resolves its progress.

    An iteration is *stagnant* when, compared with the last iteration that was not, it
    lowers neither the objective by more than ``ulps`` units in the last place of
    float64 (relative; the objective is summed in float64) nor the stopping measure below
    ``factor`` times its value then, and its objective is not above the value then by
    more than the products' rounding (``ulps`` units in the last place of ``dtype``). After
    ``window`` stagnant iterations in a row the solver's steps are lost in rounding: it
    stops, at most ``window`` iterations after its last non-stagnant one.

    Each condition matters. A solver whose measure still falls by a steady factor per
    step is progressing even when the objective has stopped changing in float64
    (gradient descent near the optimum). One whose objective still reaches new lows,
    however small, is progressing (a first-order method on an ill-conditioned problem).
    And one whose objective jumps up and down (gradient descent with too large a
    learning rate) is not stuck in rounding but oscillating: ``max_iter`` or the
    divergence check ends that, as before.

    Parameters
    ----------
    dtype : numpy dtype
        The precision of the products with ``X``.
    window : int
        Stagnant iterations in a row that end the fit.
    factor : float
        Share of the smallest measure so far below which an iteration is progress.
    ulps : float
        The objective's resolution, in units of ``numpy.finfo(float64).eps`` for a new
        low and of ``numpy.finfo(dtype).eps`` for a rise. 16 ulps stay above the
        rounding of the objective measured on small problems (about 4 ulps in float64,
        a few hundredths of an ulp of float32 with float32 products).
    """

    def __init__(self, dtype, window: int, factor: float = 0.9, ulps: float = 16.0):
        self.dtype = np.dtype(dtype)
        self.window, self.factor, self.ulps = window, factor, ulps
        self.resolution = ulps * float(np.finfo(np.float64).eps)
        self.band = ulps * float(np.finfo(self.dtype).eps)
        self.value = math.inf
        self.criterion = math.inf
        self.stagnant = 0

    def stop(
        self, value: float, criterion: float, tol: float, at_max_iter: bool = False
    ) -> str | None:
        """Why the solver stops after this iteration (``"tol"``, ``"max_iter"``, the
        stagnation reason), or None to go on: the checks every solver makes, in order."""
        if criterion <= tol:
            return "tol"
        if at_max_iter:
            return "max_iter"
        return self.reason if self.update(value, criterion) else None

    def update(self, value: float, criterion: float) -> bool:
        """Record one iteration's objective and measure; True when stagnating."""
        scale = abs(self.value)
        lower = value < self.value - self.resolution * scale
        rose = value > self.value + self.band * scale
        if lower or rose or criterion < self.factor * self.criterion:
            # The references move only here, so that slow steady progress adds up.
            self.value = min(self.value, value)
            self.criterion = min(self.criterion, criterion)
            self.stagnant = 0
            return False
        self.stagnant += 1
        return self.stagnant >= self.window

    @property
    def reason(self) -> str:
        """The ``"stagnation: ..."`` reason of a :class:`Convergence`."""
        return (
            f"stagnation: {self.window} iterations in a row lowered neither the objective "
            f"(by more than {self.ulps:g} ulps) nor the measure (below {self.factor:g} of "
            "its best)"
        )


def finish(
    solver: str,
    *,
    n_iter: int,
    max_iter: int,
    tol: float,
    criterion: float,
    reason: str,
    measure: str,
    dtype,
    detail: str = "",
) -> Convergence:
    """The :class:`Convergence` of a solver that stopped, with its warning.

    ``reason`` is ``"tol"`` or ``"callback"`` (no warning), or ``"max_iter"``,
    ``"stagnation: ..."`` or ``"line search failed"`` (one :class:`ConvergenceWarning`
    naming ``criterion`` against ``tol`` and the reason). ``dtype`` is the precision of
    the products with ``X`` (float32 is named as the likely limit); ``detail`` adds
    what the solver knows, e.g. the unscaled gradient.
    """
    convergence = Convergence(
        converged=bool(criterion <= tol),
        criterion=float(criterion),
        tol=float(tol),
        reason=reason,
        measure=measure,
    )
    if reason in ("tol", "callback"):
        return convergence
    reached = f"{measure} {criterion:.3g} > tol={tol:g}" + (f" ({detail})" if detail else "")
    if reason == "max_iter":
        message = (
            f"{solver} did not converge in max_iter={max_iter} iterations: {reached}; "
            "increase max_iter, loosen tol, or scale the features"
        )
    else:
        if np.dtype(dtype) == np.float32:
            why = (
                "the float32 products with X limit the precision of the gradient: "
                "pass float64 X or loosen tol"
            )
        else:
            why = f"the limit of {np.dtype(dtype).name} arithmetic here: loosen tol"
        message = (
            f"{solver} stopped after {n_iter} iterations without meeting tol: {reached}; "
            f"{reason}, so further iterations cannot meet tol ({why})"
        )
    log.debug(message)
    warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return convergence


def relative(value: float, reference: float) -> float:
    """``value / reference``: a stopping measure on the scale of ``tol`` (``reference``
    0, as for all-zero ``X``, counts as 1)."""
    return value / (reference or 1.0)


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
    if sparse_like(X) and X.dtype != np.float64:
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
