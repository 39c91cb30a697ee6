r"""Penalties on the weights: L2 (smooth), L1 (through its proximal operator), ElasticNet.

The penalty of the objective is

.. math::

    P(W) = \frac{\lambda_2}{2} \lVert W \rVert_F^2 + \lambda_1 \lVert W \rVert_1,

on the weights only, never on the intercept. The L2 part is smooth: solvers add its
gradient :math:`\lambda_2 W` to the data gradient. The L1 part is not differentiable
at zero, so solvers take a *proximal* step instead of a subgradient step: after a
gradient step of size :math:`\eta` they apply soft-thresholding,

.. math::

    \operatorname{prox}_{\eta \lambda_1 \lVert\cdot\rVert_1}(v)
        = \operatorname{sign}(v) \max(|v| - \eta \lambda_1, 0),

which sets every weight with :math:`|v| \le \eta\lambda_1` to exactly zero. A
subgradient step :math:`v - \eta\lambda_1 \operatorname{sign}(v)` jumps over zero
instead and almost never lands on it, so it gives no sparsity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def soft_threshold(v, threshold: float) -> np.ndarray:
    """Proximal operator of ``threshold * ||.||_1``, elementwise.

    Parameters
    ----------
    v : ndarray of any shape
    threshold : float
        Non-negative; ``0`` returns a copy of ``v``.

    Returns
    -------
    ndarray of the shape of ``v``
        ``sign(v) * max(|v| - threshold, 0)``, with exact zeros where
        ``|v| <= threshold``.
    """
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0)


def l2_value_gradient(coef, l2: float):
    """``(l2/2) ||coef||^2`` and its gradient ``l2 * coef`` (shape of ``coef``)."""
    # Not np.vdot: a threaded BLAS dot on >10,000 entries waits milliseconds for
    # OpenBLAS to wake its threads when the cores are busy, 100x the work itself.
    return 0.5 * l2 * float(np.sum(coef * coef)), l2 * coef


@dataclass(frozen=True)
class ElasticNet:
    r"""The penalty :math:`\frac{\lambda_2}{2}\lVert W\rVert^2 + \lambda_1\lVert W\rVert_1`.

    ``l1 = 0`` is pure L2 (ridge), ``l2 = 0`` pure L1 (lasso), both zero no penalty.

    Parameters
    ----------
    l1, l2 : float
        Non-negative strengths (validated by the estimators).
    """

    l1: float = 0.0
    l2: float = 0.0

    @property
    def is_smooth(self) -> bool:
        """True when there is no L1 part, so plain gradient methods reach the optimum."""
        return self.l1 == 0.0

    def smooth_value_gradient(self, coef):
        """The L2 part and its gradient: ``(float, ndarray like coef)``."""
        return l2_value_gradient(coef, self.l2)

    def l1_value(self, coef) -> float:
        """``l1 * ||coef||_1``."""
        return self.l1 * float(np.abs(coef).sum()) if self.l1 else 0.0

    def value(self, coef) -> float:
        """The whole penalty :math:`P(W)`."""
        return self.smooth_value_gradient(coef)[0] + self.l1_value(coef)

    def prox(self, coef, step: float) -> np.ndarray:
        """Proximal step of the L1 part for a gradient step of size ``step``.

        Parameters
        ----------
        coef : ndarray of shape (K, n_features)
            Weights right after the gradient step.
        step : float
            The step size (learning rate) just used.

        Returns
        -------
        ndarray of shape (K, n_features)
            ``coef`` itself when ``l1 == 0``, else soft-thresholded by ``step * l1``.
        """
        if self.l1 == 0.0:
            return coef
        return soft_threshold(coef, step * self.l1)
