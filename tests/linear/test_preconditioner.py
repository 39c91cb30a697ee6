"""L-BFGS preconditioned by the features' second moment: same optimum, fewer iterations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.linear.estimators import LogisticRegression, SoftmaxRegression
from logreg.linear.exceptions import InvalidParameterError
from logreg.linear.path import regularization_path
from logreg.linear.solvers.preconditioner import (
    CovariancePreconditioner,
    covariance_preconditioner,
)


def _correlated(n=600, d=40, n_classes=4, seed=0):
    """Features mixed by a random matrix (condition number ~10^3), labels from a softmax."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) * np.geomspace(1.0, 30.0, d)
    X = rng.normal(size=(n, d)) @ mixing / np.sqrt(d)
    true_coef = rng.normal(size=(n_classes, d)) / np.sqrt(d)
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(n, n_classes)), axis=1)
    return X, y


@pytest.mark.parametrize("model", [LogisticRegression, SoftmaxRegression])
def test_the_preconditioned_fit_reaches_the_same_optimum_in_fewer_iterations(model):
    X, y = _correlated(n_classes=2 if model is LogisticRegression else 4)
    params = {"solver": "lbfgs", "l2": 1e-3, "tol": 1e-8, "max_iter": 5000}
    plain = model(**params).fit(X, y)
    preconditioned = model(**params, precondition="covariance").fit(X, y)
    assert plain.convergence_.reason == preconditioned.convergence_.reason == "tol"
    np.testing.assert_allclose(preconditioned.coef_, plain.coef_, atol=1e-4)
    # Softmax intercepts are defined up to a common shift (the penalty leaves them free).
    shift = np.mean(preconditioned.intercept_ - plain.intercept_)
    np.testing.assert_allclose(preconditioned.intercept_ - shift, plain.intercept_, atol=1e-4)
    assert preconditioned.n_iter_ < plain.n_iter_ / 3, (preconditioned.n_iter_, plain.n_iter_)


def test_a_warm_started_path_with_the_preconditioner_matches_cold_fits():
    X, y = _correlated()
    model = SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=5000, precondition="covariance")
    path = regularization_path(model, X, y, l2s=[1e-1, 1e-2, 1e-3])
    for l2, coef in zip(path.l2s, path.coefs):
        cold = SoftmaxRegression(solver="lbfgs", l2=l2, tol=1e-8, max_iter=5000).fit(X, y)
        np.testing.assert_allclose(coef, cold.coef_, atol=1e-4)


def test_the_factor_is_that_of_the_ridged_second_moment_of_every_row_of_a_small_x():
    X, _ = _correlated(n=500, d=30)
    factor = CovariancePreconditioner(X).factor
    moment = X.T @ X / 500
    moment[np.diag_indices(30)] += 0.1 * np.trace(moment) / 30
    np.testing.assert_allclose(factor @ factor.T, moment, rtol=1e-10, atol=1e-10)


def test_every_view_of_a_memory_mapped_split_shares_one_factor(tmp_path):
    """The path's fits and the run's final fit each validate X into a new view of the same
    memory-mapped file: they share one factor (one Cholesky, one d x d matrix in memory);
    another array, or the same memory seen with other strides, gets its own."""
    X, _ = _correlated(n=300, d=20)
    np.save(tmp_path / "X_train.npy", X.astype(np.float32))
    mapped = np.load(tmp_path / "X_train.npy", mmap_mode="r")
    first, second = np.asarray(mapped), np.asarray(mapped)
    assert first is not second
    assert covariance_preconditioner(first) is covariance_preconditioner(second)
    copy = np.array(mapped)
    assert covariance_preconditioner(copy) is not covariance_preconditioner(first)
    assert covariance_preconditioner(first[:, ::2]) is not covariance_preconditioner(first)


def test_an_unknown_preconditioner_and_a_sparse_x_are_refused():
    X, y = _correlated(n=200, d=10)
    with pytest.raises(InvalidParameterError, match="precondition must be one of none, cov"):
        SoftmaxRegression(precondition="gram").fit(X, y)
    with pytest.raises(ValueError, match="precondition='covariance' needs dense features"):
        SoftmaxRegression(solver="lbfgs", precondition="covariance").fit(sp.csr_matrix(X), y)


def test_from_few_rows_the_low_rank_square_root_is_exact_and_inverts():
    """With at most d / 4 sampled rows the square root comes from the rows' Gram matrix:
    L L^T is the ridged second moment, and coef() undoes variables() (the warm start)."""
    X, _ = _correlated(n=100, d=500)
    preconditioner = CovariancePreconditioner(X)
    assert preconditioner.factor is None and preconditioner.basis.shape == (500, 100)
    identity = np.eye(500)
    root = preconditioner.variables(identity)  # rows of I L = L
    moment = X.T @ X / 100
    moment[np.diag_indices(500)] += 0.1 * np.trace(moment) / 500
    np.testing.assert_allclose(root @ root.T, moment, rtol=1e-8, atol=1e-8 * moment.max())
    np.testing.assert_allclose(preconditioner.coef(root), identity, atol=1e-8)
    np.testing.assert_array_equal(preconditioner.gradient(root), preconditioner.coef(root))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_from_few_rows_the_preconditioned_fit_reaches_the_same_optimum_sooner(dtype):
    X, y = _correlated(n=120, d=600, n_classes=3)
    X = X.astype(dtype)
    params = {"solver": "lbfgs", "l2": 1e-1, "tol": 1e-6, "max_iter": 5000}
    plain = SoftmaxRegression(**params).fit(X, y)
    preconditioned = SoftmaxRegression(**params, precondition="covariance").fit(X, y)
    assert plain.convergence_.reason == preconditioned.convergence_.reason == "tol"
    np.testing.assert_allclose(preconditioned.coef_, plain.coef_, atol=1e-3)
    assert preconditioned.n_iter_ < plain.n_iter_ / 2, (preconditioned.n_iter_, plain.n_iter_)
