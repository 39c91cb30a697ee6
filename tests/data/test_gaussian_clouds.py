"""The two-Gaussian-clouds problem: generator, closed-form weights, what fits approach."""

from __future__ import annotations

import numpy as np
import pytest

from logreg import LogisticRegression
from logreg.data.gaussian_clouds import bayes_optimal_weights, make_gaussian_clouds


def test_closed_form_weights_of_the_course_problem():
    w, b = bayes_optimal_weights()
    np.testing.assert_array_equal(w, [4.0, 4.0])
    assert b == 0.0


def test_closed_form_is_the_exact_posterior_log_odds():
    mean0, mean1 = np.array([1.0, -1.0, 0.5]), np.array([-0.5, 2.0, 1.0])
    cov = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])
    p1 = 0.3
    w, b = bayes_optimal_weights(mean0, mean1, cov, p1)
    x = np.random.default_rng(0).normal(size=(5, 3))
    inverse = np.linalg.inv(cov)

    def log_density(mean):  # up to the constant both classes share
        diff = x - mean
        return -0.5 * np.einsum("ij,jk,ik->i", diff, inverse, diff)

    log_odds = log_density(mean1) + np.log(p1) - log_density(mean0) - np.log(1 - p1)
    np.testing.assert_allclose(x @ w + b, log_odds, rtol=1e-12)


def test_generator_is_seeded_and_matches_its_parameters():
    X, y = make_gaussian_clouds(40_000, np.random.default_rng(5), p1=0.25)
    X2, y2 = make_gaussian_clouds(40_000, np.random.default_rng(5), p1=0.25)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (40_000, 2) and set(np.unique(y)) == {0, 1}
    assert y.mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-2, -2], atol=0.03)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.03)
    np.testing.assert_allclose(np.cov(X[y == 1].T), np.eye(2), atol=0.05)


def test_bad_problem_parameters():
    with pytest.raises(ValueError, match=r"p1 must be in \(0, 1\), got 1.0"):
        bayes_optimal_weights(p1=1.0)
    with pytest.raises(ValueError, match=r"cov must have shape \(2, 2\), got \(3, 3\)"):
        make_gaussian_clouds(10, np.random.default_rng(0), cov=np.eye(3))


def test_unpenalized_fit_approaches_the_bayes_weights_as_n_grows():
    w, b = bayes_optimal_weights()
    target = np.r_[w, b]
    errors = {}
    for n in (1_000, 100_000):
        worst = 0.0
        for seed in range(3):
            X, y = make_gaussian_clouds(n, np.random.default_rng(seed))
            model = LogisticRegression(tol=1e-8, max_iter=500).fit(X, y)
            worst = max(worst, np.abs(np.r_[model.coef_[0], model.intercept_] - target).max())
        errors[n] = worst
    # The clouds overlap little (Bayes error 0.23%), so small samples estimate the
    # steep sigmoid poorly; 100,000 samples pin it down.
    assert errors[100_000] < 0.35
    assert errors[100_000] < errors[1_000] / 3


def test_l2_shrinks_the_weights():
    X, y = make_gaussian_clouds(20_000, np.random.default_rng(0))
    norms = [
        np.linalg.norm(LogisticRegression(l2=l2, tol=1e-8).fit(X, y).coef_)
        for l2 in (0.0, 1e-3, 1e-2, 1e-1, 1.0)
    ]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    assert norms[0] == pytest.approx(np.linalg.norm([4, 4]), rel=0.1)
    assert norms[-1] < 0.15 * norms[0]
