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
right-hand sides per evaluation, which read :math:`L` twice. From ``m <= d / 4`` rows the
square root is built from the ``m x m`` Gram matrix instead (``m^2 d + m^3`` flops, a
``d x m`` basis; :class:`CovariancePreconditioner`).
One factor is kept for the last ``X`` it was computed from, so the fits of a
regularization path and the final fit on the same array share it.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.linalg

from logreg.linear.streamed import sparse_like

PRECONDITIONERS = ("none", "covariance")
"""Values of the estimators' ``precondition`` parameter."""

SAMPLE_ROWS = 4000
"""Rows of ``X`` that estimate its second moment: on FER2013's 7,200 k-means features,
L-BFGS preconditioned from 4,000 rows reached the objective of 600 plain iterations in
25 (docs/results.md, "The feature ladder")."""

RIDGE = 0.1
"""``epsilon`` of :math:`C + \\epsilon I` relative to the mean diagonal of ``C``."""

LOW_RANK_ROWS = 0.25
"""The low-rank square root is used when the sample has at most this fraction of ``d``
rows. On FER2013's 12,800 k-means features from 4,000 rows (0.31 d) the two forms cost the
same to within a few seconds per run (build 17.7 s Cholesky, 21.8 s low-rank; 0.150 and
0.124 s per evaluation, one BLAS thread); with fewer rows the low-rank form is far cheaper
(the demo: 1,120 rows)."""

LOW_RANK_CUTOFF = 1e-5
"""Eigenvalues of the sample's Gram matrix below this fraction of the largest are left to
the ridge (the low-rank square root, fewer sampled rows than features)."""

_BLOCK_ROWS = 1024
"""Rows of the factor :meth:`CovariancePreconditioner.variables` converts to float64 at once."""

_last: list = [None, None, None]  # a weak reference to the owner of the last X, its key, the factor


def _ridge(trace: float, d: int) -> float:
    """``epsilon`` for a second moment of trace ``trace`` over ``d`` features (1 for an
    all-zero sample, whose moment would otherwise stay singular)."""
    ridge = RIDGE * trace / d
    return ridge if ridge > 0 else 1.0


class CovariancePreconditioner:
    """The change of variables ``W = V M`` with ``M = L^{-1}`` for a square root ``L`` of
    ``C + epsilon I`` (``L L^T = C + epsilon I``).

    ``L`` is the Cholesky factor (``factor``) unless the sample has at most ``d / 4`` rows
    (``LOW_RANK_ROWS``; the demo's 1,120 faces for 12,800 k-means features): then ``C``
    has rank at most ``m`` and ``L`` is the symmetric square root
    ``sqrt(epsilon) I + U (sqrt(Lambda + epsilon) - sqrt(epsilon)) U^T`` built from the
    eigendecomposition of the ``m x m`` Gram matrix (``basis`` ``U``, ``d x r``, float64
    products so that ``U`` is orthonormal to ~1e-8): ``m^2 d + m^3`` flops instead of
    ``m d^2 + d^3 / 3``, and a ``d x r`` basis read per product instead of the ``d x d``
    factor. The two square roots differ by an orthogonal matrix, under which L-BFGS's
    iterates are the same (up to rounding).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense features (float32 or float64).
    """

    def __init__(self, X):
        if sparse_like(X):
            raise ValueError("precondition='covariance' needs dense features, got a sparse X")
        n, d = X.shape
        rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ROWS)).astype(np.intp))
        dtype = np.result_type(X.dtype, np.float32)
        sample = np.asarray(X[rows], dtype=dtype)
        self.factor = self.basis = None
        if rows.size > LOW_RANK_ROWS * d:
            self._cholesky(sample, rows.size, d)
        else:
            self._low_rank(sample, rows.size, d)

    def _cholesky(self, sample, m, d):
        # The moment and its factor in X's precision, built in place: d x d float32 is
        # 655 MB at d = 12,800 (float64 and a converted copy would hold 2 GB at once), the
        # ridge keeps it well conditioned for float32, and a preconditioner changes the
        # path to the optimum, not the optimum. Each evaluation reads the factor twice
        # (two triangular solves with K right-hand sides, memory-bound), so a float32
        # factor of float32 features also halves that traffic.
        # sample.T @ sample is C-contiguous and symmetric, so its transpose is the same
        # matrix in Fortran order, which LAPACK factors in place.
        moment = (sample.T @ sample).T
        del sample
        moment /= m
        moment[np.diag_indices(d)] += _ridge(float(np.trace(moment, dtype=np.float64)), d)
        self.factor = scipy.linalg.cholesky(
            moment, lower=True, overwrite_a=True, check_finite=False
        )

    def _low_rank(self, sample, m, d):
        # C = S^T S / m and G = S S^T / m share their non-zero eigenvalues; C's
        # eigenvectors are S^T q / sqrt(m lambda), computed in float64 so that they are
        # orthonormal (then M below is L's inverse, which the warm start relies on).
        # Directions of eigenvalues below LOW_RANK_CUTOFF of the largest are left to the
        # ridge (1 / sqrt(lambda) would amplify the rounding of their basis vectors).
        dtype = sample.dtype  # of the basis: X's precision, which the products read
        sample = sample.astype(np.float64)
        gram = sample @ sample.T / m
        ridge = _ridge(float(np.trace(gram)), d)
        eigenvalues, vectors = scipy.linalg.eigh(gram, check_finite=False)
        del gram
        keep = eigenvalues > LOW_RANK_CUTOFF * max(float(eigenvalues[-1]), 0.0)
        eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
        basis = sample.T @ (vectors / np.sqrt(m * eigenvalues))
        self.basis = basis.astype(dtype)
        root = np.sqrt(ridge)
        self._scale = root
        self._up = np.sqrt(eigenvalues + ridge) - root  # L = root I + U diag(up) U^T
        self._down = 1.0 / np.sqrt(eigenvalues + ridge) - 1.0 / root  # M = L^-1

    def coef(self, v):
        """Weights ``W`` (K, d) of the variables ``V``."""
        if self.basis is not None:
            return self._symmetric(v, 1.0 / self._scale, self._down)
        return self._solve(v, trans="T")

    def variables(self, coef):
        """Variables ``V = W L`` of the weights ``W``."""
        coef = np.asarray(coef, dtype=np.float64)
        if self.basis is not None:
            return self._symmetric(coef, self._scale, self._up)
        # coef @ factor would convert the whole float32 factor to float64 first (1.3 GB
        # for 12,800 features, at the start of every fit); blocks of its rows keep that
        # copy to a slice.
        d = self.factor.shape[0]
        v = np.zeros((coef.shape[0], d))
        for start in range(0, d, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            v += coef[:, rows] @ self.factor[rows].astype(np.float64)
        return v

    def gradient(self, grad_coef):
        """The gradient in ``V`` of the gradient in ``W``: ``G L^{-T}``."""
        if self.basis is not None:
            return self._symmetric(grad_coef, 1.0 / self._scale, self._down)
        return self._solve(grad_coef, trans="N")

    def _symmetric(self, rows, scale, diagonal):
        """``rows (scale I + U diag(diagonal) U^T)`` in float64, the products in U's dtype."""
        projected = (rows.astype(self.basis.dtype) @ self.basis).astype(np.float64)
        back = ((projected * diagonal).astype(self.basis.dtype) @ self.basis.T).astype(np.float64)
        return scale * np.asarray(rows, dtype=np.float64) + back

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
    if sparse_like(X):
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
