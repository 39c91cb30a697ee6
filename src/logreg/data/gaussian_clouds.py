r"""Two Gaussian clouds: a problem whose optimal logistic weights are known in closed form.

Class 1 has prior :math:`p_1` and features :math:`x \sim \mathcal N(\mu_1, \Sigma)`,
class 0 prior :math:`p_0 = 1 - p_1` and :math:`x \sim \mathcal N(\mu_0, \Sigma)`. With
a shared covariance the posterior is exactly logistic (this is linear discriminant
analysis):

.. math::

    P(y = 1 \mid x) = \sigma(w^\top x + b), \quad
    w = \Sigma^{-1}(\mu_1 - \mu_0), \quad
    b = \tfrac12 \mu_0^\top\Sigma^{-1}\mu_0 - \tfrac12 \mu_1^\top\Sigma^{-1}\mu_1
        + \ln\frac{p_1}{p_0}.

So unpenalized logistic regression, a consistent estimator of that posterior,
approaches :math:`(w, b)` as the number of samples grows. For the default problem
(means :math:`(-2,-2)` and :math:`(2,2)`, identity covariance, equal priors)
:math:`w = (4, 4)` and :math:`b = 0`.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MEAN0 = (-2.0, -2.0)
DEFAULT_MEAN1 = (2.0, 2.0)


def _problem(mean0, mean1, cov, p1):
    mean0 = np.asarray(mean0, dtype=np.float64)
    mean1 = np.asarray(mean1, dtype=np.float64)
    if mean0.ndim != 1 or mean0.shape != mean1.shape:
        raise ValueError(
            f"mean0 and mean1 must be vectors of one length, got shapes "
            f"{mean0.shape} and {mean1.shape}"
        )
    d = mean0.shape[0]
    cov = np.eye(d) if cov is None else np.asarray(cov, dtype=np.float64)
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}), got {cov.shape}")
    if not 0.0 < p1 < 1.0:
        raise ValueError(f"p1 must be in (0, 1), got {p1!r}")
    return mean0, mean1, cov


def make_gaussian_clouds(
    n_samples: int,
    rng: np.random.Generator,
    mean0=DEFAULT_MEAN0,
    mean1=DEFAULT_MEAN1,
    cov=None,
    p1: float = 0.5,
):
    """Draw samples of the two-cloud problem.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    rng : numpy.random.Generator
        The only source of randomness.
    mean0, mean1 : array-like of shape (n_features,)
        Class means.
    cov : array-like of shape (n_features, n_features) or None
        Shared positive-definite covariance; None is the identity.
    p1 : float in (0, 1)
        Prior probability of class 1; each label is drawn independently.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int, values 0 and 1
    """
    mean0, mean1, cov = _problem(mean0, mean1, cov, p1)
    chol = np.linalg.cholesky(cov)
    y = (rng.random(n_samples) < p1).astype(np.int64)
    noise = rng.standard_normal((n_samples, mean0.shape[0])) @ chol.T
    X = np.where(y[:, None] == 1, mean1, mean0) + noise
    return X, y


def bayes_optimal_weights(mean0=DEFAULT_MEAN0, mean1=DEFAULT_MEAN1, cov=None, p1: float = 0.5):
    """The logistic weights of the exact posterior :math:`P(y=1 \\mid x)`.

    Parameters
    ----------
    mean0, mean1, cov, p1
        As for :func:`make_gaussian_clouds`.

    Returns
    -------
    w : ndarray of shape (n_features,)
        :math:`\\Sigma^{-1}(\\mu_1 - \\mu_0)`.
    b : float
        :math:`\\frac12\\mu_0^\\top\\Sigma^{-1}\\mu_0 - \\frac12\\mu_1^\\top\\Sigma^{-1}\\mu_1
        + \\ln(p_1 / p_0)`.
    """
    mean0, mean1, cov = _problem(mean0, mean1, cov, p1)
    w = np.linalg.solve(cov, mean1 - mean0)
    b = (
        0.5 * mean0 @ np.linalg.solve(cov, mean0)
        - 0.5 * mean1 @ np.linalg.solve(cov, mean1)
        + np.log(p1 / (1.0 - p1))
    )
    return w, float(b)
