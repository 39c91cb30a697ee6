"""newton_cd on the real electronics tf-idf vectors: tol is met before max_iter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from logreg.linear.estimators import LogisticRegression
from logreg.linear.loss import make_loss, one_hot
from logreg.linear.path import l1_max, regularization_path
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers import ConvergenceWarning, objective
from real_reviews import REAL, electronics_training_split

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not REAL.is_dir(), reason=f"real review data not found at {REAL}"),
]


@pytest.fixture(scope="module")
def electronics(tmp_path_factory):
    """The data stage for electronics with the course's text options (stop words, no
    bigrams, plain tf-idf), seed 2013."""
    out = tmp_path_factory.mktemp("electronics")
    return electronics_training_split(out, stopwords=True, bigrams=False, sublinear_tf=False)


@pytest.mark.parametrize("l1", [1e-4, 3e-4, 1e-3, 3e-3])
@pytest.mark.parametrize("tol", [1e-4, 1e-8])
def test_tol_is_met_before_max_iter(electronics, l1, tol):
    X, y = electronics
    assert X.shape == (1400, 4872)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LogisticRegression(l1=l1, tol=tol, max_iter=100).fit(X, y)
    assert model.solver_ == "newton_cd" and model.n_iter_ < 50
    assert 0 < np.count_nonzero(model.coef_) < X.shape[1]


def test_path_on_real_data_screens_and_matches_cold_fits(electronics):
    X, y = electronics
    model = LogisticRegression(tol=1e-6, max_iter=100)
    path = regularization_path(model, X, y, n_values=10, eps=1e-2)
    loss = make_loss(2, multinomial=False)
    assert path.l1s[0] == pytest.approx(l1_max(loss, X.astype(float), one_hot(y, 1)))
    assert path.n_kept[1:].max() < X.shape[1]
    X64, Y = X.astype(float), one_hot(y, 1)
    for index in (3, 9):
        penalty = ElasticNet(l1=float(path.l1s[index]))
        cold = LogisticRegression(l1=penalty.l1, tol=1e-6).fit(X, y)
        np.testing.assert_array_equal(path.coefs[index] != 0, cold.coef_ != 0)
        warm = objective(loss, penalty, path.coefs[index], path.intercepts[index], X64, Y, None)
        assert warm == pytest.approx(
            objective(loss, penalty, cold.coef_, cold.intercept_, X64, Y, None), rel=1e-9
        )
