"""Regularization paths: warm starts, l1_max, strong-rule screening with KKT check."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.linear.estimators import LogisticRegression, SoftmaxRegression
from logreg.linear.loss import make_loss, one_hot
from logreg.linear.path import l1_max, regularization_path


def _problem(multinomial, sparse, n=150, d=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(size=X.shape) < 0.6] = 0.0
    n_classes = 3 if multinomial else 2
    true_coef = rng.normal(size=(n_classes, d)) * (rng.random(size=d) < 0.2)
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(n, n_classes)), axis=1)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "softmax"])
def test_l1_max_is_the_smallest_penalty_that_zeroes_every_weight(multinomial, sparse):
    X, y = _problem(multinomial, sparse)
    loss = make_loss(3 if multinomial else 2, multinomial)
    top = l1_max(loss, X, one_hot(y, loss.n_outputs))
    model = SoftmaxRegression if multinomial else LogisticRegression
    assert not model(l1=top * 1.001, tol=1e-10).fit(X, y).coef_.any()
    assert model(l1=top * 0.95, tol=1e-10).fit(X, y).coef_.any()


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "softmax"])
def test_path_matches_cold_fits_and_screening_drops_no_active_feature(multinomial, sparse):
    X, y = _problem(multinomial, sparse)
    model = (SoftmaxRegression if multinomial else LogisticRegression)(tol=1e-9, l2=1e-3)
    path = regularization_path(model, X, y, n_values=8, eps=1e-2)
    unscreened = regularization_path(model, X, y, n_values=8, eps=1e-2, screening=False)
    assert path.solver == "newton_cd" and path.coefs.shape[0] == 8
    assert np.all(np.diff(path.l1s) < 0) and path.l1s[0] > path.l1s[-1]
    assert np.any(path.n_kept < X.shape[1])  # the strong rule left features out ...
    for index, l1 in enumerate(path.l1s):
        cold = model.set_params(l1=float(l1)).fit(X, y)
        # ... never one that is non-zero at the optimum:
        np.testing.assert_array_equal(path.coefs[index] != 0, cold.coef_ != 0)
        np.testing.assert_allclose(path.coefs[index], cold.coef_, atol=1e-6)
        np.testing.assert_allclose(unscreened.coefs[index], cold.coef_, atol=1e-6)
    assert not path.coefs[0].any() and path.coefs[-1].any()


def test_l2_path_with_lbfgs_warm_starts():
    X, y = _problem(False, False)
    model = LogisticRegression(tol=1e-9)
    l2s = [1.0, 0.1, 0.01, 0.001]
    path = regularization_path(model, X, y, l2s=l2s)
    np.testing.assert_array_equal(path.l2s, sorted(l2s, reverse=True))
    assert path.solver == "lbfgs"
    for index, l2 in enumerate(path.l2s):
        cold = LogisticRegression(l2=float(l2), tol=1e-9).fit(X, y)
        np.testing.assert_allclose(path.coefs[index], cold.coef_, rtol=1e-5, atol=1e-6)


def test_sparse_l2_path_fits_float32_x_in_place_and_matches_cold_fits():
    # The selection path of a large review domain: a float64 CSC copy of X (12 bytes per
    # stored value) was most of a fit's memory; an L2 path of newton_cg makes none.
    import tracemalloc

    rng = np.random.default_rng(3)
    n, d, per_row = 20_000, 1_000, 50
    columns = rng.integers(0, d, size=(n, per_row))
    X = sp.csr_matrix(
        (
            rng.random(n * per_row).astype(np.float32),
            columns.ravel(),
            np.arange(0, n * per_row + 1, per_row),
        ),
        shape=(n, d),
    )
    X.sum_duplicates()
    scores = X @ rng.normal(size=d)
    y = (scores - np.median(scores) + rng.logistic(size=n) > 0).astype(np.int64)
    model = LogisticRegression(tol=1e-5)
    tracemalloc.start()
    path = regularization_path(model, X, y, l2s=[1e-2, 1e-3, 1e-4])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert path.solver == "newton_cg"
    assert peak < 8 * X.nnz, f"peak {peak / 2**20:.1f} MiB: X was copied"
    for index, l2 in enumerate(path.l2s):
        cold = LogisticRegression(l2=float(l2), tol=1e-5).fit(X, y)
        np.testing.assert_allclose(path.coefs[index], cold.coef_, rtol=1e-3, atol=1e-3)


def test_path_rejects_two_sequences_and_stochastic_solvers():
    X, y = _problem(False, False)
    with pytest.raises(ValueError, match="give l1s or l2s, not both"):
        regularization_path(LogisticRegression(), X, y, l1s=[0.1], l2s=[0.1])
    with pytest.raises(ValueError, match="deterministic solver"):
        regularization_path(LogisticRegression(solver="sgd"), X, y)
