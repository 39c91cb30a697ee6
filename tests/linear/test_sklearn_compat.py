"""scikit-learn compatibility: its estimator checks, and its solutions at the mapped C."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from logreg import LogisticRegression, SoftmaxRegression

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is a test dependency")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

# Fitting with sample weights equals fitting repeated samples only for deterministic
# solvers run to convergence: shuffled mini-batches and a random validation split
# see different sequences of samples.
_WHY = "stochastic steps visit repeated samples differently from weighted ones"
_NOT_WEIGHT_EQUIVALENT = {
    "check_sample_weight_equivalence_on_dense_data": _WHY,
    "check_sample_weight_equivalence_on_sparse_data": _WHY,
}


@pytest.mark.filterwarnings("ignore::logreg.linear.solvers._common.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize(
    "estimator, expected_failures",
    [
        (LogisticRegression(), {}),
        (SoftmaxRegression(), {}),
        (LogisticRegression(l1=1e-3), {}),  # newton_cd
        (SoftmaxRegression(l1=1e-3, l2=1e-3), {}),  # newton_cd, ElasticNet
        (LogisticRegression(l1=1e-3, solver="fista"), {}),
        (SoftmaxRegression(l2=1e-3, solver="newton_cg", tol=1e-8), {}),
        (LogisticRegression(solver="gd", lr=1.0), {}),
        (SoftmaxRegression(solver="minibatch", lr=0.1, batch_size=8), _NOT_WEIGHT_EQUIVALENT),
    ],
    ids=repr,
)
def test_passes_sklearn_check_estimator(estimator, expected_failures):
    # The ConvergenceWarnings are those of checks that fit unpenalized models on
    # separable data with few iterations; they are correct warnings, not failures.
    check_estimator(estimator, expected_failed_checks=expected_failures)


def _sklearn_and_ours(n_classes, sparse, weighted, class_weight=None, C=0.7):
    X, y = make_classification(
        n_samples=300, n_features=15, n_informative=6, n_classes=n_classes, random_state=n_classes
    )
    if sparse:
        X[np.abs(X) < 0.8] = 0.0
        X = sp.csr_matrix(X)
    sample_weight = np.random.default_rng(0).uniform(0.2, 3.0, size=300) if weighted else None
    reference = SklearnLogisticRegression(
        C=C, tol=1e-12, max_iter=10_000, class_weight=class_weight
    )
    reference.fit(X, y, sample_weight=sample_weight)
    # l2 = 1 / (C * sum of raw weights), raw weight = sample weight * class weight;
    # "balanced" class weights keep the sum at n_samples for unit sample weights.
    raw = np.ones(300) if sample_weight is None else sample_weight
    if class_weight == "balanced":
        totals = np.bincount(y, weights=raw)
        raw = raw * (raw.sum() / (n_classes * totals))[y]
    model_class = LogisticRegression if n_classes == 2 else SoftmaxRegression
    ours = model_class(
        l2=1.0 / (C * raw.sum()), tol=1e-10, max_iter=1000, class_weight=class_weight
    )
    ours.fit(X, y, sample_weight=sample_weight)
    return reference, ours, X


@pytest.mark.parametrize(
    "n_classes, sparse, weighted, class_weight",
    [
        (2, False, False, None),
        (2, True, True, None),
        (2, False, True, "balanced"),
        (4, False, False, None),
        (4, True, True, None),
        (4, False, True, "balanced"),
        (4, True, False, "balanced"),
    ],
    ids=lambda v: {2: "binary", 4: "multinomial", None: "-", False: "-", True: "*"}.get(v, str(v)),
)
def test_l2_solution_matches_sklearn_at_mapped_C(n_classes, sparse, weighted, class_weight):
    reference, ours, X = _sklearn_and_ours(n_classes, sparse, weighted, class_weight)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4 * scale, rtol=0)
    # Softmax intercepts are defined up to a constant; both solutions sum to zero
    # only after centering scikit-learn's.
    intercept = reference.intercept_
    if n_classes > 2:
        intercept = intercept - intercept.mean()
    np.testing.assert_allclose(ours.intercept_, intercept, atol=1e-4 * scale, rtol=0)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", ["fista", "gd"])
def test_other_deterministic_solvers_match_sklearn_too(solver):
    X, y = make_classification(
        n_samples=200, n_features=10, n_informative=5, n_classes=3, random_state=1
    )
    C = 0.5
    reference = SklearnLogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    ours = SoftmaxRegression(
        l2=1 / (C * 200), solver=solver, lr=0.5, tol=1e-9, max_iter=20_000
    ).fit(X, y)
    np.testing.assert_allclose(
        ours.coef_, reference.coef_, atol=1e-4 * np.abs(reference.coef_).max(), rtol=0
    )


def test_l1_solution_matches_sklearn_saga_at_mapped_C():
    X, y = make_classification(n_samples=200, n_features=12, n_informative=4, random_state=3)
    C = 0.2
    reference = SklearnLogisticRegression(
        C=C, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000
    ).fit(X, y)
    ours = LogisticRegression(l1=1 / (C * 200), tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(
        ours.coef_, reference.coef_, atol=1e-4 * np.abs(reference.coef_).max(), rtol=0
    )
    np.testing.assert_array_equal(ours.coef_ == 0, reference.coef_ == 0)


def test_clone_keeps_parameters():
    model = SoftmaxRegression(l1=0.1, solver="fista", class_weight="balanced")
    assert clone(model).get_params() == model.get_params()
