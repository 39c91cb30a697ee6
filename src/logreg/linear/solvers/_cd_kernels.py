r"""Coordinate-descent sweeps over a working set: the inner loop of :func:`newton_cd`.

Each sweep minimizes, one weight at a time, the L1-penalized second-order model of
the objective around the current weights :math:`W` (direction :math:`D = W' - W`,
score change :math:`U = X D^\top + \delta b`, :math:`w_i = s_i / n`):

.. math::

    q(D, \delta b) = \sum_{kj} G_{kj} D_{kj} + \sum_k g_k \delta b_k
        + \tfrac12 \sum_i w_i\, U_i^\top \big(\mathrm{diag}(p_i) - p_i p_i^\top\big) U_i
        + \tfrac{\lambda_2}{2}\lVert D\rVert^2 + \lambda_1 \lVert W + D\rVert_1

(binary: :math:`\tfrac12 \sum_i w_i p_i (1 - p_i) U_i^2`), the exact Hessian of
the cross-entropy: the softmax coupling of the classes costs one running sum
:math:`M_i = p_i^\top U_i` per sample.

The update of weight :math:`(k, j)` is the exact minimizer along it,
:math:`W'_{kj} \leftarrow S(W'_{kj} - \partial_{kj} q / H_{kj},\ \lambda_1 / H_{kj})`
with :math:`H_{kj} = \sum_i w_i p_{ik}(1 - p_{ik}) x_{ij}^2 + \lambda_2`, and the intercepts are
Newton-updated after each sweep. ``Xd`` (:math:`X D^\top + \delta b`) is kept up to
date, so a sweep costs one pass over the working-set columns.

The functions are compiled by numba when it is installed (50-100x faster than the
interpreter on these loops, see ``benchmarks/README.md``); without numba they run as
plain Python, correct but slow. ``NUMBA_DISABLE_JIT=1`` forces the plain version.
"""

from __future__ import annotations

import numpy as np

try:  # optional accelerator
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda function: function


@njit(cache=True, nogil=True)
def _intercept_step(G_b, H, PW, P, M, Xd, delta_b, coupled):
    """Newton update of every intercept; returns the largest scaled change."""
    K, n = H.shape
    largest = 0.0
    for k in range(K):
        grad = G_b[k]
        hess = 0.0
        for i in range(n):
            grad += PW[k, i] * (Xd[k, i] - M[i])
            hess += H[k, i]
        if hess <= 0.0:
            continue
        step = -grad / hess
        delta_b[k] += step
        for i in range(n):
            Xd[k, i] += step
            if coupled:
                M[i] += P[k, i] * step
        if abs(step) * hess > largest:
            largest = abs(step) * hess
    return largest


@njit(cache=True, nogil=True)
def _coordinate(w_old, w_new, grad, hess, l1):
    """The soft-thresholded Newton point of one weight."""
    z = w_new - grad / hess
    threshold = l1 / hess
    if z > threshold:
        return z - threshold
    if z < -threshold:
        return z + threshold
    return 0.0


@njit(cache=True, nogil=True)
def cd_sparse(
    indptr, indices, data, ws, W_ws, W_new, G_ws, G_b, H, PW, P, M, coupled, Xd, delta_b, l1,
    l2, fit_intercept, max_sweeps, tol,
):  # fmt: skip
    r"""Sweeps over the working set ``ws`` of a CSC matrix until the largest scaled change
    of a sweep is at most ``tol`` or ``max_sweeps`` ran.

    Parameters
    ----------
    indptr, indices, data : the CSC arrays of X, shape (n_samples, n_features)
    ws : int64 ndarray of shape (m,)
        Working-set features.
    W_ws : float64 ndarray of shape (K, m)
        Weights of the working set at the expansion point (read only).
    W_new : float64 ndarray of shape (K, m)
        Updated in place: the model's minimizer so far (starts equal to ``W_ws``).
    G_ws : float64 ndarray of shape (K, m)
        Gradient of the smooth part at the expansion point.
    G_b : float64 ndarray of shape (K,)
        Its gradient in the intercepts.
    H : float64 ndarray of shape (K, n_samples)
        Diagonal curvature weights :math:`w_i p_{ik}(1 - p_{ik})`, with
        :math:`w_i = s_i / n`.
    PW, P : float64 ndarrays of shape (K, n_samples)
        Softmax (``coupled``): :math:`w_i p_{ik}` and :math:`p_{ik}`; the model is
        then the exact second-order one, whose Hessian in the scores of sample
        :math:`i` is :math:`w_i(\mathrm{diag}(p_i) - p_i p_i^\top)`, through
        :math:`M_i = \sum_k p_{ik} Xd_{ki}`. Binary: ``PW = H`` (``P`` unused).
    M : float64 ndarray of shape (n_samples,)
        Updated in place when ``coupled`` (starts at zero).
    coupled : bool
    Xd : float64 ndarray of shape (K, n_samples)
        Updated in place: ``(X @ (W_new - W)^T + delta_b)^T`` (starts at zero).
    delta_b : float64 ndarray of shape (K,)
        Updated in place: the intercept step.

    Returns
    -------
    int
        Sweeps run.
    """
    K, m = W_new.shape
    hess = np.zeros((K, m))
    for jj in range(m):
        j = ws[jj]
        for k in range(K):
            total = l2
            for p in range(indptr[j], indptr[j + 1]):
                x = data[p]
                total += H[k, indices[p]] * x * x
            hess[k, jj] = total
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        largest = 0.0
        for jj in range(m):
            j = ws[jj]
            start, end = indptr[j], indptr[j + 1]
            for k in range(K):
                if hess[k, jj] <= 0.0:
                    continue
                grad = G_ws[k, jj] + l2 * (W_new[k, jj] - W_ws[k, jj])
                for p in range(start, end):
                    i = indices[p]
                    grad += PW[k, i] * data[p] * (Xd[k, i] - M[i])
                new = _coordinate(W_ws[k, jj], W_new[k, jj], grad, hess[k, jj], l1)
                change = new - W_new[k, jj]
                if change != 0.0:
                    W_new[k, jj] = new
                    for p in range(start, end):
                        i = indices[p]
                        Xd[k, i] += change * data[p]
                        if coupled:
                            M[i] += P[k, i] * change * data[p]
                    if abs(change) * hess[k, jj] > largest:
                        largest = abs(change) * hess[k, jj]
        if fit_intercept:
            largest = max(largest, _intercept_step(G_b, H, PW, P, M, Xd, delta_b, coupled))
        if largest <= tol:
            break
    return sweeps


ANDERSON_K = 5
"""Sweeps between Anderson extrapolations of the binary sweeps, and iterates used."""


@njit(cache=True, nogil=True)
def _model_value(W, W_ws, G_ws, G_b, H, Xs, b, l1, l2):
    """The L1-penalized second-order model of :func:`cd_sparse_binary` at weights ``W``,
    score change ``Xs + b`` (up to a constant)."""
    value = G_b[0] * b
    for jj in range(W.shape[0]):
        step = W[jj] - W_ws[jj]
        value += G_ws[jj] * step + 0.5 * l2 * step * step + l1 * abs(W[jj])
    for i in range(Xs.shape[0]):
        u = Xs[i] + b
        value += 0.5 * H[i] * u * u
    return value


@njit(cache=True, nogil=True)
def _anderson(iterates, scores, intercepts, W_new, Xs, W_ws, G_ws, G_b, H, l1, l2, b):
    """The Anderson extrapolation of the last ``ANDERSON_K + 1`` iterates when it
    lowers the model (Bertrand & Massias 2021), else the current ``b``; ``W_new`` and
    ``Xs`` are replaced in place when it does.

    ``iterates`` (K + 1, m), ``scores`` (K + 1, n) and ``intercepts`` (K + 1,) hold the
    weights, ``Xs`` and the intercept step after each of the last sweeps, oldest
    first; ``Xs`` and the intercept are affine in the weights, so the same combination
    gives theirs.
    """
    K = iterates.shape[0] - 1
    U = iterates[1:] - iterates[:-1]
    gram = U @ U.T
    scale = 0.0
    for k in range(K):
        scale += gram[k, k]
    if scale == 0.0:
        return b
    for k in range(K):
        gram[k, k] += 1e-10 * scale
    z = np.linalg.solve(gram, np.ones(K))
    total = z.sum()
    if total == 0.0 or not np.isfinite(total):
        return b
    c = z / total
    W_e = c @ iterates[1:]
    Xs_e = c @ scores[1:]
    b_e = c @ intercepts[1:]
    before = _model_value(W_new, W_ws, G_ws, G_b, H, Xs, b, l1, l2)
    after = _model_value(W_e, W_ws, G_ws, G_b, H, Xs_e, b_e, l1, l2)
    if after < before:
        W_new[:] = W_e
        Xs[:] = Xs_e
        return b_e
    return b


@njit(cache=True, nogil=True)
def cd_sparse_binary(
    indptr, indices, data, ws, W_ws, W_new, G_ws, G_b, H, Xd, delta_b, l1, l2, fit_intercept,
    max_sweeps, tol,
):  # fmt: skip
    r""":func:`cd_sparse` for the binary loss (K = 1), on 1-D arrays: ``W_ws``,
    ``W_new``, ``G_ws`` of shape (m,), ``H`` and ``Xd`` of shape (n_samples,), ``G_b``
    and ``delta_b`` of shape (1,); ``Xd`` and ``delta_b`` start at zero.

    Two changes to the general sweeps, which took 40-60 sweeps for each of the last
    Newton steps of an L1 fit on the electronics tf-idf vectors, nearly all of it a
    slow exchange between the intercept and the weights:

    * the intercept stays at its optimum for the current weights: each weight moves
      along :math:`e_j - ar x_j e_b` with :math:`ar x_j = \sum_i h_i x_{ij} /
      \sum_i h_i` (implicitly centered columns, as glmnet's), an exact joint update of
      the weight and the intercept that costs no pass over the samples: the score
      change is kept as ``Xs + b`` with ``Xs`` sparse in the columns;
    * Anderson extrapolation every ``ANDERSON_K`` sweeps (:func:`_anderson`).
    """
    m = W_new.shape[0]
    n = Xd.shape[0]
    hx = np.zeros(m)
    curvature = np.empty(m)
    total_h = 0.0
    for i in range(n):
        total_h += H[i]
    centered = fit_intercept and total_h > 0.0
    for jj in range(m):
        j = ws[jj]
        hxx = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            x = data[p]
            hx[jj] += H[np.uint64(indices[p])] * x
            hxx += H[np.uint64(indices[p])] * x * x
        curvature[jj] = l2 + (hxx - hx[jj] * hx[jj] / total_h if centered else hxx)
    Xs = np.zeros(n)
    S = 0.0  # sum_i h_i Xs_i
    b = -G_b[0] / total_h if centered else 0.0
    iterates = np.empty((ANDERSON_K + 1, m))
    scores = np.empty((ANDERSON_K + 1, n))
    intercepts = np.empty(ANDERSON_K + 1)
    iterates[0] = W_new
    scores[0] = Xs
    intercepts[0] = b
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        largest = 0.0
        for jj in range(m):
            h = curvature[jj]
            if h <= 0.0:
                continue
            j = ws[jj]
            start, end = indptr[j], indptr[j + 1]
            w = W_new[jj]
            grad = G_ws[jj] + l2 * (w - W_ws[jj]) + b * hx[jj]
            for p in range(start, end):
                i = np.uint64(indices[p])
                grad += H[i] * data[p] * Xs[i]
            new = _coordinate(W_ws[jj], w, grad, h, l1)
            change = new - w
            if change != 0.0:
                W_new[jj] = new
                for p in range(start, end):
                    Xs[np.uint64(indices[p])] += change * data[p]
                if centered:
                    S += change * hx[jj]
                    b -= change * hx[jj] / total_h
                if abs(change) * h > largest:
                    largest = abs(change) * h
        if centered:  # the incremental updates of b drift by rounding: re-solve it
            S = 0.0
            for i in range(n):
                S += H[i] * Xs[i]
            b = -(G_b[0] + S) / total_h
        if largest <= tol:
            break
        # Slot 0 holds the iterate the block of ANDERSON_K sweeps started from.
        slot = (sweeps - 1) % ANDERSON_K + 1
        iterates[slot] = W_new
        scores[slot] = Xs
        intercepts[slot] = b
        if slot == ANDERSON_K:
            b = _anderson(iterates, scores, intercepts, W_new, Xs, W_ws, G_ws, G_b, H, l1, l2, b)
            iterates[0] = W_new
            scores[0] = Xs
            intercepts[0] = b
    for i in range(n):
        Xd[i] = Xs[i] + b
    delta_b[0] = b
    return sweeps


@njit(cache=True, nogil=True)
def cd_dense(
    X_ws, W_ws, W_new, G_ws, G_b, H, PW, P, M, coupled, Xd, delta_b, l1, l2, fit_intercept,
    max_sweeps, tol,
):  # fmt: skip
    """:func:`cd_sparse` for the dense working-set columns ``X_ws`` (n_samples, m),
    Fortran-ordered so that each column is contiguous."""
    n = X_ws.shape[0]
    K, m = W_new.shape
    hess = np.zeros((K, m))
    for jj in range(m):
        for k in range(K):
            total = l2
            for i in range(n):
                x = X_ws[i, jj]
                total += H[k, i] * x * x
            hess[k, jj] = total
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        largest = 0.0
        for jj in range(m):
            for k in range(K):
                if hess[k, jj] <= 0.0:
                    continue
                grad = G_ws[k, jj] + l2 * (W_new[k, jj] - W_ws[k, jj])
                for i in range(n):
                    grad += PW[k, i] * X_ws[i, jj] * (Xd[k, i] - M[i])
                new = _coordinate(W_ws[k, jj], W_new[k, jj], grad, hess[k, jj], l1)
                change = new - W_new[k, jj]
                if change != 0.0:
                    W_new[k, jj] = new
                    for i in range(n):
                        Xd[k, i] += change * X_ws[i, jj]
                        if coupled:
                            M[i] += P[k, i] * change * X_ws[i, jj]
                    if abs(change) * hess[k, jj] > largest:
                        largest = abs(change) * hess[k, jj]
        if fit_intercept:
            largest = max(largest, _intercept_step(G_b, H, PW, P, M, Xd, delta_b, coupled))
        if largest <= tol:
            break
    return sweeps


@njit(cache=True, nogil=True)
def gradient_sparse(indptr, indices, data, R, out):
    """``out = (X^T R^T)^T``: the data gradient (K, n_features) from the CSC arrays of X
    and the scaled residual ``R`` (K, n_samples); scipy's product costs more in call
    overhead than in arithmetic at this size."""
    K = R.shape[0]
    for j in range(indptr.shape[0] - 1):
        for k in range(K):
            total = 0.0
            for p in range(indptr[j], indptr[j + 1]):
                total += data[p] * R[k, np.uint64(indices[p])]
            out[k, j] = total


@njit(cache=True, nogil=True)
def scores_sparse(indptr, indices, data, coef, intercept, out):
    """``out = X @ coef.T + intercept`` (n_samples, K) from the CSC arrays of X, summed
    in float64 (scipy would multiply a float32 matrix in float32)."""
    K = coef.shape[0]
    for i in range(out.shape[0]):
        for k in range(K):
            out[i, k] = intercept[k]
    for j in range(indptr.shape[0] - 1):
        for k in range(K):
            w = coef[k, j]
            if w == 0.0:
                continue
            for p in range(indptr[j], indptr[j + 1]):
                out[np.uint64(indices[p]), k] += data[p] * w


@njit(cache=True, nogil=True)
def gradient_violation_binary(indptr, indices, data, r, coef, l1, l2, grad, violations):
    """The gradient ``grad = X^T r + l2 coef`` (n_features,) of the binary loss from the
    CSC arrays of X and the scaled residual ``r`` (n_samples,), and the optimality
    violation of each weight (``kkt_violation`` of :mod:`~logreg.linear.solvers.newton_cd`)
    into ``violations``."""
    for j in range(indptr.shape[0] - 1):
        total = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            total += data[p] * r[np.uint64(indices[p])]
        w = coef[j]
        g = total + l2 * w
        grad[j] = g
        if w > 0.0:
            violations[j] = abs(g + l1)
        elif w < 0.0:
            violations[j] = abs(g - l1)
        else:
            violations[j] = max(abs(g) - l1, 0.0)
