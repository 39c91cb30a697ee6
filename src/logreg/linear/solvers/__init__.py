r"""The solvers of the penalized logistic/softmax objective, in one place.

All solvers minimize

.. math::

    J(W, b) = \frac{1}{N}\sum_{i=1}^{N} s_i\, \mathrm{CE}(y_i, p_i)
              + \frac{\lambda_2}{2}\lVert W\rVert_F^2 + \lambda_1\lVert W\rVert_1

and share one calling convention: ``solver(loss, penalty, X, Y, sample_weight, *,
coef0=None, intercept0=None, max_iter, tol, callback=None, verbose=0, ...)`` returning
``(coef, intercept, n_iter, history, convergence)``, ``convergence`` a
:class:`Convergence` (the measure reached, ``tol``, and why the solver stopped). Their
own options:

========== ================================================ =========================
solver     method                                            options
========== ================================================ =========================
gd         full-batch proximal gradient descent              lr, lr_schedule, decay,
                                                             momentum
sgd        proximal SGD, one sample per step                 as gd, plus rng
minibatch  proximal mini-batch SGD                           as sgd, plus batch_size
lbfgs      L-BFGS (scipy), smooth penalties only             (none)
fista      accelerated proximal gradient with backtracking   lipschitz0
newton_cd  proximal Newton, coordinate descent on working    (none)
           sets (glmnet/newGLMNET/celer); L1 and ElasticNet
newton_cg  truncated Newton, conjugate gradients on          (none)
           Hessian-vector products; smooth penalties only
========== ================================================ =========================

Randomness (the shuffling of ``sgd`` and ``minibatch``) comes only from the
``numpy.random.Generator`` passed as ``rng``. The implementations live in
:mod:`logreg.linear.solvers.gradient_descent` (gd, sgd, minibatch),
:mod:`logreg.linear.solvers.lbfgs`, :mod:`logreg.linear.solvers.fista`,
:mod:`logreg.linear.solvers.newton_cd` and :mod:`logreg.linear.solvers.newton_cg`; the shared pieces
in :mod:`logreg.linear.solvers._common`.
"""

from __future__ import annotations

from logreg.linear.solvers._common import Convergence, ConvergenceWarning, objective
from logreg.linear.solvers.fista import fista
from logreg.linear.solvers.gradient_descent import LR_SCHEDULES, gd, learning_rate, minibatch, sgd
from logreg.linear.solvers.lbfgs import lbfgs
from logreg.linear.solvers.newton_cd import kkt_violation, newton_cd
from logreg.linear.solvers.newton_cg import newton_cg

SOLVERS = {
    "gd": gd,
    "sgd": sgd,
    "minibatch": minibatch,
    "lbfgs": lbfgs,
    "fista": fista,
    "newton_cd": newton_cd,
    "newton_cg": newton_cg,
}
"""Solver functions by name, as the estimators' ``solver`` parameter spells them."""

SOLVER_NAMES = ("auto", *SOLVERS)
"""Every value the estimators' ``solver`` parameter takes: ``auto`` picks by penalty."""

SMOOTH_ONLY_SOLVERS = ("lbfgs", "newton_cg")
"""Solvers of the smooth objective only: they cannot take an L1 penalty."""

STOCHASTIC_SOLVERS = ("sgd", "minibatch")
"""Solvers that take ``rng`` (and ``minibatch`` also ``batch_size``)."""

LR_SOLVERS = ("gd", "sgd", "minibatch")
"""Solvers that take ``lr``, ``lr_schedule``, ``decay`` and ``momentum``."""

__all__ = [
    "Convergence",
    "ConvergenceWarning",
    "LR_SCHEDULES",
    "LR_SOLVERS",
    "SMOOTH_ONLY_SOLVERS",
    "SOLVERS",
    "SOLVER_NAMES",
    "STOCHASTIC_SOLVERS",
    "fista",
    "gd",
    "kkt_violation",
    "lbfgs",
    "learning_rate",
    "minibatch",
    "newton_cd",
    "newton_cg",
    "objective",
    "resolve_solver",
    "sgd",
]


def resolve_solver(solver: str, l1: float, sparse: bool = False) -> str:
    """The solver ``solver`` stands for.

    ``auto`` is, with L1, proximal Newton coordinate descent (``newton_cd``); without
    it, truncated Newton (``newton_cg``) for sparse ``X`` and L-BFGS for dense ``X``:
    on the electronics tf-idf vectors (sparse) newton_cg reaches a relative gap of 1e-6
    4-8x sooner than L-BFGS, on the FER2013 HOG features (dense, 28,709 x 1,764,
    7 classes) L-BFGS reaches 1e-4 about 4x sooner (``benchmarks/README.md``).
    """
    if solver != "auto":
        return solver
    if l1 > 0:
        return "newton_cd"
    return "newton_cg" if sparse else "lbfgs"
