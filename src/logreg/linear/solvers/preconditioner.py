r"""A preconditioner for L-BFGS on dense features: the features' second moment.

The Hessian of the cross-entropy in the weights :math:`w_k` of the classes is
:math:`\frac{1}{n}\sum_i H_i \otimes x_i x_i^\top` (:math:`H_i` the ``K x K`` curvature of
sample ``i``), plus :math:`\lambda_2 I` from the penalty. Its feature part is close to
:math:`C = \frac{1}{m} S^\top S`, the second moment of the features; correlated
features make :math:`C` ill-conditioned, and L-BFGS then needs many iterations (on
FER2013's 7,200 k-means features it stopped at 150 iterations with a relative gradient
of 4e-3). L-BFGS on :math:`v_k = L^\top w_k`, where

.. math:: L L^\top = C + \epsilon I, \qquad \epsilon = 0.1 \operatorname{tr}(C) / d,

sees features :math:`L^{-1} x` of nearly identity second moment; the objective is the
same function of the same weights :math:`w_k = L^{-\top} v_k` (the penalty stays
:math:`\frac{\lambda_2}{2}\lVert W\rVert^2`), so the optimum is unchanged, only the path
of the iterations differs. :math:`C` is estimated on ``m`` evenly spaced rows (no
randomness); :math:`\epsilon` keeps :math:`C + \epsilon I` well defined when
``m < d`` and damps the directions that rows estimate poorly.

Cost: ``m d^2`` flops for :math:`C`, ``d^3 / 3`` for the Cholesky factor, ``4 d^2`` bytes
for :math:`L` (float32 features; 8 for float64), and two triangular solves with ``K``
right-hand sides per evaluation, which read :math:`L` twice.
One factor is kept for the last ``X`` it was computed from, so the fits of a
regularization path and the final fit on the same array share it.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.linalg
import scipy.sparse as sp

PRECONDITIONERS = ("none", "covariance")
"""Values of the estimators' ``precondition`` parameter."""

SAMPLE_ROWS = 4000
"""Rows of ``X`` that estimate its second moment: on FER2013's 7,200 k-means features,
L-BFGS preconditioned from 4,000 rows reached the objective of 600 plain iterations in
25 (docs/results.md, "The feature ladder")."""

RIDGE = 0.1
"""``epsilon`` of :math:`C + \\epsilon I` relative to the mean diagonal of ``C``."""

_BLOCK_ROWS = 1024
"""Rows of the factor :meth:`CovariancePreconditioner.variables` converts to float64 at once."""

_last: list = [None, None, None]  # a weak reference to the owner of the last X, its key, the factor


class CovariancePreconditioner:
    """The change of variables ``W = V L^{-1}`` (rows ``w_k = L^{-T} v_k``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense features (float32 or float64).
    """

    def __init__(self, X):
        if sp.issparse(X):
            raise ValueError("precondition='covariance' needs dense features, got a sparse X")
        n, d = X.shape
        rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(np.intp))
        # The moment and its factor in X's precision, built in place: d x d float32 is
        # 655 MB at d = 12,800 (float64 and a converted copy would hold 2 GB at once), the
        # ridge keeps it well conditioned for float32, and a preconditioner changes the
        # path to the optimum, not the optimum. Each evaluation reads the factor twice
        # (two triangular solves with K right-hand sides, memory-bound), so a float32
        # factor of float32 features also halves that traffic.
        dtype = np.result_type(X.dtype, np.float32)
        sample = np.asarray(X[rows], dtype=dtype)
        # sample.T @ sample is C-contiguous and symmetric, so its transpose is the same
        # matrix in Fortran order, which LAPACK factors in place.
        moment = (sample.T @ sample).T
        del sample
        moment /= rows.size
        ridge = RIDGE * float(np.trace(moment, dtype=np.float64)) / d
        moment[np.diag_indices(d)] += ridge if ridge > 0 else 1.0
        self.factor = scipy.linalg.cholesky(
            moment, lower=True, overwrite_a=True, check_finite=False
        )

    def coef(self, v):
        """Weights ``W`` (K, d) of the variables ``V``."""
        return self._solve(v, trans="T")

    def variables(self, coef):
        """Variables ``V = W L`` of the weights ``W``."""
        # coef @ factor would convert the whole float32 factor to float64 first (1.3 GB
        # for 12,800 features, at the start of every fit); blocks of its rows keep that
        # copy to a slice.
        coef = np.asarray(coef, dtype=np.float64)
        d = self.factor.shape[0]
        v = np.zeros((coef.shape[0], d))
        for start in range(0, d, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            v += coef[:, rows] @ self.factor[rows].astype(np.float64)
        return v

    def gradient(self, grad_coef):
        """The gradient in ``V`` of the gradient in ``W``: ``G L^{-T}``."""
        return self._solve(grad_coef, trans="N")

    def _solve(self, rows, trans):
        right = np.asfortranarray(rows.T, dtype=self.factor.dtype)
        solved = scipy.linalg.solve_triangular(
            self.factor, right, lower=True, trans=trans, check_finite=False
        )
        return solved.T.astype(np.float64)


def covariance_preconditioner(X) -> CovariancePreconditioner:
    """The preconditioner of ``X``, reused while the same array is passed.

    "The same array" is the same memory seen the same way, not the same Python object:
    each ``np.asarray`` of a memory-mapped prepared split is a new view of it, and the
    path's fits and the final fit of a run each validate ``X`` anew, so a cache keyed on
    the object would build a second factor (twice the work, and two factors in memory).
    The array that owns the memory is held by a weak reference, so a freed array whose
    address is reused is never mistaken for it. (An array changed in place keeps its
    factor: a stale factor slows the fit down, the optimum stays the same.)
    """
    if sp.issparse(X):
        return CovariancePreconditioner(X)  # which refuses it
    owner = X
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    key = (X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str)
    reference, kept_key, kept = _last
    if kept is not None and reference() is owner and kept_key == key:
        return kept
    _last[:] = [None, None, None]  # the old factor is freed before the new one is built
    kept = CovariancePreconditioner(X)
    try:
        _last[:] = [weakref.ref(owner), key, kept]
    except TypeError:  # an owner without weak references: not kept
        pass
    return kept
