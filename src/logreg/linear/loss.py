r"""Cross-entropy data terms of linear classifiers, with their gradients in one pass.

For weights :math:`W` of shape ``(K, d)``, intercepts :math:`b` of shape ``(K,)``,
samples :math:`x_i` with one-hot (or 0/1) targets :math:`Y_i` and sample weights
:math:`s_i` (``None`` means all ones), the data term is

.. math::

    L(W, b) = \frac{1}{n} \sum_{i=1}^{n} s_i \, \mathrm{CE}(Y_i, p_i), \qquad
    z_i = W x_i + b,

* binary (``K = 1``): :math:`p_i = \sigma(z_i)`,
  :math:`\mathrm{CE} = -Y_i \log p_i - (1 - Y_i) \log(1 - p_i)`;
* multinomial (``K`` classes): :math:`p_i = \mathrm{softmax}(z_i)`,
  :math:`\mathrm{CE} = -\sum_k Y_{ik} \log p_{ik}`.

In both cases :math:`\partial \mathrm{CE} / \partial z_i = p_i - Y_i`, so
:math:`\nabla_W L = \frac{1}{n} \sum_i s_i (p_i - Y_i) x_i^\top` and
:math:`\nabla_b L = \frac{1}{n} \sum_i s_i (p_i - Y_i)`.

``X`` may be a dense array or a ``scipy.sparse`` CSR matrix; it is never densified.
When ``X`` is float32 the two products with ``X`` run in float32 (half the memory
traffic of float64, and what the data's precision allows) while the log-sum-exp and
the sums of the loss run in float64. Penalties are separate terms
(:mod:`logreg.linear.penalties`).

A dense ``X`` is read once per :meth:`loss_gradient`: it goes in blocks of rows small
enough to stay in the processor's cache between the two products (scores, then the
gradient). On data that does not fit in cache (FER2013's 28,709 x 7,200 k-means
features, 789 MiB of float32) a pass takes 0.27 s where two whole-matrix products took
0.35 s on one thread (``benchmarks/bench_loss_pass.py``).
"""

from __future__ import annotations

import numpy as np

from logreg.linear.streamed import sparse_like

#: Bytes of ``X`` per block of rows in a dense :meth:`loss_gradient` pass: small enough to
#: stay in a core's share of the cache between the two products, large enough that each
#: product runs at full speed (1-4 MiB measured best on 2 cores: bench_loss_pass.py).
BLOCK_BYTES = 2 << 20


def one_hot(y_index, n_outputs: int, dtype=np.float64) -> np.ndarray:
    """Targets as the loss expects them.

    Parameters
    ----------
    y_index : ndarray of shape (n_samples,)
        Class indices.
    n_outputs : int
        The loss's ``n_outputs``: ``1`` gives the binary column ``(n_samples, 1)`` of
        0/1 values (index 1 is the positive class); ``K >= 2`` gives the one-hot
        matrix ``(n_samples, K)``.

    Returns
    -------
    Y : ndarray of shape (n_samples, n_outputs)
    """
    y_index = np.asarray(y_index)
    if n_outputs == 1:
        return (y_index == 1).astype(dtype)[:, None]
    Y = np.zeros((y_index.shape[0], n_outputs), dtype=dtype)
    Y[np.arange(y_index.shape[0]), y_index] = 1.0
    return Y


class _CrossEntropy:
    """Shared machinery; subclasses define the link (sigmoid or softmax).

    Attributes
    ----------
    n_classes : int
        Number of classes (2 for the binary loss).
    n_outputs : int
        Rows of ``coef``: 1 for the binary loss, ``n_classes`` for the multinomial.
    fit_intercept : bool
    """

    n_classes = 2
    n_outputs = 1

    def __init__(self, fit_intercept: bool = True):
        self.fit_intercept = fit_intercept
        self._kept = None  # (X, coef, intercept, raw): see keep_scores_of

    def keep_scores_of(self, X) -> None:
        """Remember the scores of the last weights evaluated on ``X`` (None: forget).

        A fit's monitor asks for the training scores of the weights the solver has
        just evaluated; with this on, :meth:`raw_prediction` returns (a copy of) the
        scores of the last :meth:`loss_gradient` on ``X`` at the same weights without
        another pass over ``X`` (a third of the time of a wide fit). The estimator
        turns it on for the training matrix during a fit and off after it, so no
        fitted model holds on to its training data.
        """
        self._kept = None if X is None else (X, None, None, None)

    def _remember(self, X, coef, intercept, raw) -> None:
        if self._kept is not None and self._kept[0] is X:
            self._kept = (X, coef.copy(), np.array(intercept, copy=True), raw)

    def _recall(self, X, coef, intercept):
        kept = self._kept
        if kept is None or kept[0] is not X or kept[1] is None:
            return None
        if np.array_equal(kept[1], coef) and np.array_equal(kept[2], intercept):
            return kept[3].copy()  # n x K floats: callers may write into their scores
        return None

    def raw_prediction(self, coef, intercept, X) -> np.ndarray:
        """Scores :math:`z = X W^\\top + b`.

        Parameters
        ----------
        coef : ndarray of shape (K, n_features)
        intercept : ndarray of shape (K,)
        X : ndarray or CSR matrix of shape (n_samples, n_features)

        Returns
        -------
        raw : float64 ndarray of shape (n_samples, K)
        """
        kept = self._recall(X, coef, intercept)
        return kept if kept is not None else self._scores(coef, intercept, X)

    def _scores(self, coef, intercept, X) -> np.ndarray:
        W = coef.astype(X.dtype, copy=False)
        # One output: a matrix-vector product, cheaper than a one-column matrix one.
        product = (X @ W[0])[:, None] if W.shape[0] == 1 else X @ W.T
        raw = np.asarray(product, dtype=np.float64)
        if self.fit_intercept:
            raw += intercept
        return raw

    def loss(self, coef, intercept, X, Y, sample_weight=None) -> float:
        """Data term :math:`L(W, b)` (float); arguments as for :meth:`loss_gradient`."""
        return self.loss_from_raw(self.raw_prediction(coef, intercept, X), Y, sample_weight)

    def loss_from_raw(self, raw, Y, sample_weight=None) -> float:
        """Data term from scores ``raw`` of shape (n_samples, K) (float)."""
        loss_i = self._pointwise(raw, Y, need_residual=False)[0]
        return self._mean(loss_i, sample_weight)

    def gradient(self, coef, intercept, X, Y, sample_weight=None):
        """Gradient of :math:`L`: ``(grad_coef (K, d), grad_intercept (K,))``."""
        return self.loss_gradient(coef, intercept, X, Y, sample_weight)[1:]

    def loss_gradient(self, coef, intercept, X, Y, sample_weight=None):
        """Data term and its gradient from one pass over ``X``.

        Parameters
        ----------
        coef : ndarray of shape (K, n_features)
        intercept : ndarray of shape (K,)
        X : ndarray or CSR matrix of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, K)
            0/1 column (binary, ``K = 1``) or one-hot rows (multinomial).
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        loss : float
        grad_coef : float64 ndarray of shape (K, n_features)
        grad_intercept : float64 ndarray of shape (K,)
            Zeros when ``fit_intercept`` is False.
        """
        n, K = X.shape[0], Y.shape[1]
        row_bytes = max(X.shape[1], 1) * X.dtype.itemsize
        step = n if sparse_like(X) else max(64, BLOCK_BYTES // row_bytes)
        keep = self._kept is not None and self._kept[0] is X
        raw_all = np.empty((n, K)) if keep and step < n else None
        sw = None if sample_weight is None else np.asarray(sample_weight)
        loss_sum = 0.0
        grad_coef = np.zeros((K, X.shape[1]))
        grad_intercept = np.zeros(K)
        for start in range(0, n, step):
            rows = slice(start, start + step)
            X_rows = X if step >= n else X[rows]
            raw = self._scores(coef, intercept, X_rows)
            if raw_all is not None:
                raw_all[rows] = raw
            loss_i, residual = self._pointwise(raw, Y[rows], need_residual=True)
            if sw is None:
                loss_sum += float(loss_i.sum())
                residual *= 1.0 / n
            else:
                # Not a BLAS dot: see logreg.linear.solvers._common.inner for why.
                loss_sum += float(np.sum(loss_i * sw[rows]))
                residual *= (sw[rows] / n)[:, None]
            grad_coef += self._transpose_product(X_rows, residual)
            if self.fit_intercept:
                grad_intercept += residual.sum(axis=0)
        if keep:
            self._remember(X, coef, intercept, raw if raw_all is None else raw_all)
        return loss_sum / n, grad_coef, grad_intercept

    @staticmethod
    def _transpose_product(X, residual) -> np.ndarray:
        """``residual.T @ X`` as float64 of shape (K, n_features)."""
        R = residual.astype(X.dtype, copy=False)
        if R.shape[1] == 1:
            return np.asarray(X.T @ R[:, 0], dtype=np.float64)[None, :]
        # X.T @ R, not R.T @ X: OpenBLAS runs the second (a 7-row result summed over
        # 28,709 rows) up to 10x slower with 2 threads. X.T of a CSR matrix is a CSC
        # view: no copy, no densifying.
        return np.asarray(X.T @ R, dtype=np.float64).T

    def loss_residual_from_raw(self, raw, Y, sample_weight=None):
        """Data term and the scaled residual from scores, without a product with ``X``.

        Parameters
        ----------
        raw : ndarray of shape (n_samples, K)
        Y : ndarray of shape (n_samples, K)
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        loss : float
        residual : float64 ndarray of shape (n_samples, K)
            :math:`s_i (p_i - Y_i) / n`: ``X.T @ residual`` is the gradient in ``W``,
            its column sums the gradient in ``b``.
        """
        loss_i, residual = self._pointwise(raw, Y, need_residual=True)
        n = raw.shape[0]
        if sample_weight is None:
            residual *= 1.0 / n
        else:
            residual *= (sample_weight / n)[:, None]
        return self._mean(loss_i, sample_weight), residual

    def curvature(self, raw, sample_weight=None) -> np.ndarray:
        r"""Diagonal curvature weights :math:`s_i p_{ik}(1 - p_{ik}) / n`, shape (n, K).

        For the binary loss, :math:`\nabla^2_W L = X^\top \mathrm{diag}(h) X` exactly;
        for the multinomial loss these are the diagonal blocks of the Hessian (one per
        class), which proximal Newton solvers use as their quadratic model.
        """
        p = self.predict_proba(raw)
        h = p * (1.0 - p)
        n = raw.shape[0]
        if sample_weight is None:
            h *= 1.0 / n
        else:
            h *= (sample_weight / n)[:, None]
        return h

    @staticmethod
    def _mean(loss_i, sample_weight) -> float:
        if sample_weight is None:
            return float(loss_i.mean())
        # Not a BLAS dot: see logreg.linear.solvers._common.inner for why.
        return float(np.sum(loss_i * sample_weight)) / loss_i.shape[0]


class BinaryCrossEntropy(_CrossEntropy):
    """Logistic loss of a sigmoid model; ``coef`` has shape ``(1, d)``.

    Stable for any finite score: :math:`\\mathrm{CE}(y, \\sigma(z)) =
    \\log(1 + e^{-|z|}) + \\max(z, 0) - y z` only exponentiates non-positive numbers.
    """

    def predict_proba(self, raw) -> np.ndarray:
        """Probability of the positive class, shape ``(n_samples, 1)``, from scores."""
        e = np.exp(-np.abs(raw))
        return np.where(raw >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def _pointwise(self, raw, Y, need_residual):
        e = np.exp(-np.abs(raw))
        loss_i = (np.log1p(e) + (np.maximum(raw, 0.0) - Y * raw))[:, 0]
        if not need_residual:
            return loss_i, None
        # sigma(z) from e = exp(-|z|) <= 1: 1/(1+e) for z >= 0, e/(1+e) below.
        p = np.where(raw >= 0, 1.0, e) / (1.0 + e)
        return loss_i, p - Y


class MultinomialCrossEntropy(_CrossEntropy):
    """Cross-entropy of a softmax model; ``coef`` has shape ``(K, d)``.

    The log-sum-exp subtracts each row's maximum score before exponentiating, so no
    score overflows, whatever its size.

    Parameters
    ----------
    n_classes : int
        ``K >= 2``.
    fit_intercept : bool
    """

    def __init__(self, n_classes: int, fit_intercept: bool = True):
        super().__init__(fit_intercept)
        self.n_classes = self.n_outputs = int(n_classes)

    def predict_proba(self, raw) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, K)``, from scores."""
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _pointwise(self, raw, Y, need_residual):
        m = raw.max(axis=1, keepdims=True)
        e = np.exp(raw - m)
        total = e.sum(axis=1, keepdims=True)
        log_normalizer = (m + np.log(total))[:, 0]
        loss_i = log_normalizer - np.einsum("ik,ik->i", Y, raw)
        if not need_residual:
            return loss_i, None
        e /= total
        e -= Y
        return loss_i, e


def make_loss(n_classes: int, multinomial: bool, fit_intercept: bool = True):
    """The loss of a model.

    Parameters
    ----------
    n_classes : int
    multinomial : bool
        True: softmax over ``n_classes`` outputs; False: sigmoid of one output,
        which needs ``n_classes == 2``.
    fit_intercept : bool

    Returns
    -------
    BinaryCrossEntropy or MultinomialCrossEntropy
    """
    if multinomial:
        return MultinomialCrossEntropy(n_classes, fit_intercept)
    if n_classes != 2:
        raise ValueError(f"a binary loss needs 2 classes, got {n_classes}")
    return BinaryCrossEntropy(fit_intercept)
