"""The cross-entropy losses and penalties: values, gradients, numerical safety."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.linear.loss import BinaryCrossEntropy, MultinomialCrossEntropy, make_loss, one_hot
from logreg.linear.penalties import ElasticNet, soft_threshold
from logreg.linear.solvers._common import objective, smooth_loss_gradient

PENALTIES = {
    "none": ElasticNet(),
    "l2": ElasticNet(l2=0.3),
    "l1": ElasticNet(l1=0.05),
    "elasticnet": ElasticNet(l1=0.05, l2=0.3),
}


def _problem(multinomial, sparse, weighted, fit_intercept, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    n, d, k = 40, 7, 4
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.5] = 0.0  # realistic sparsity for the CSR case
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
    n_classes = k if multinomial else 2
    y = rng.integers(0, n_classes, size=n)
    loss = make_loss(n_classes, multinomial, fit_intercept)
    Y = one_hot(y, loss.n_outputs)
    sw = rng.uniform(0.2, 3.0, size=n) if weighted else None
    # Weights far from zero, so the L1 term is differentiable at them.
    coef = rng.choice([-1.0, 1.0], size=(loss.n_outputs, d)) * rng.uniform(
        0.2, 1.0, size=(loss.n_outputs, d)
    )
    intercept = rng.normal(size=loss.n_outputs)
    return loss, X, Y, sw, coef, intercept


@pytest.mark.parametrize("penalty", PENALTIES.values(), ids=PENALTIES.keys())
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "softmax"])
def test_gradient_matches_finite_differences(multinomial, sparse, weighted, fit_intercept, penalty):
    loss, X, Y, sw, coef, intercept = _problem(multinomial, sparse, weighted, fit_intercept)
    _, grad_coef, grad_intercept = smooth_loss_gradient(loss, penalty, coef, intercept, X, Y, sw)
    grad_coef = grad_coef + penalty.l1 * np.sign(coef)  # differentiable here

    def J(c, b):
        return objective(loss, penalty, c, b, X, Y, sw)

    h = 1e-6
    numeric = np.zeros_like(coef)
    for index in np.ndindex(coef.shape):
        step = np.zeros_like(coef)
        step[index] = h
        numeric[index] = (J(coef + step, intercept) - J(coef - step, intercept)) / (2 * h)
    np.testing.assert_allclose(grad_coef, numeric, rtol=1e-6, atol=1e-8)
    numeric_b = np.array(
        [
            (J(coef, intercept + h * e) - J(coef, intercept - h * e)) / (2 * h)
            for e in np.eye(intercept.size)
        ]
    )
    np.testing.assert_allclose(
        grad_intercept, numeric_b if fit_intercept else 0.0, rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "softmax"])
def test_float32_input_gives_float64_results_close_to_float64_input(multinomial):
    loss, X32, Y, sw, coef, intercept = _problem(multinomial, False, True, True, dtype=np.float32)
    l32, g32, b32 = loss.loss_gradient(coef, intercept, X32, Y, sw)
    l64, g64, b64 = loss.loss_gradient(coef, intercept, X32.astype(np.float64), Y, sw)
    assert g32.dtype == np.float64 and isinstance(l32, float)
    np.testing.assert_allclose([l32], [l64], rtol=1e-6)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b32, b64, rtol=1e-5, atol=1e-7)


def test_loss_gradient_agrees_with_separate_loss_and_gradient():
    loss, X, Y, sw, coef, intercept = _problem(True, True, True, True)
    value, grad_coef, grad_intercept = loss.loss_gradient(coef, intercept, X, Y, sw)
    assert value == loss.loss(coef, intercept, X, Y, sw)
    separate = loss.gradient(coef, intercept, X, Y, sw)
    np.testing.assert_array_equal(grad_coef, separate[0])
    np.testing.assert_array_equal(grad_intercept, separate[1])


@pytest.mark.parametrize("output, expected", [(0.9, 0.105), (0.5, 0.693), (0.1, 2.303)])
def test_course_cross_entropy_of_target_one(output, expected):
    # The course's worked example: CE(1, p) = -ln p.
    logit = np.log(output / (1 - output))
    binary = BinaryCrossEntropy().loss_from_raw(np.array([[logit]]), np.array([[1.0]]))
    softmax = MultinomialCrossEntropy(2).loss_from_raw(
        np.array([[0.0, logit]]), np.array([[0.0, 1.0]])
    )
    assert round(binary, 3) == expected
    assert round(softmax, 3) == expected
    assert binary == pytest.approx(-np.log(output), rel=1e-12)


def test_huge_scores_give_exact_finite_losses_without_warnings():
    # pytest turns RuntimeWarning (overflow) into errors, so this also checks silence.
    z = np.array([[1e4], [-1e4], [1e4], [-1e4], [0.0]])
    y = np.array([[1.0], [1.0], [0.0], [0.0], [1.0]])
    binary = BinaryCrossEntropy()
    loss_i, residual = binary._pointwise(z, y, need_residual=True)
    np.testing.assert_allclose(loss_i, [0.0, 1e4, 1e4, 0.0, np.log(2)], atol=1e-300)
    np.testing.assert_allclose(residual[:, 0], [0.0, -1.0, 1.0, 0.0, -0.5])
    np.testing.assert_allclose(binary.predict_proba(z)[:, 0], [1, 0, 1, 0, 0.5])

    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [3.0, 3.0, 3.0]])
    Yk = np.eye(3)[[0, 0, 2]]
    softmax = MultinomialCrossEntropy(3)
    loss_k, residual_k = softmax._pointwise(Z, Yk, need_residual=True)
    np.testing.assert_allclose(loss_k, [0.0, 2e4, np.log(3)])
    assert np.isfinite(residual_k).all()
    np.testing.assert_allclose(softmax.predict_proba(Z).sum(axis=1), 1.0)


def test_sparse_input_is_never_densified():
    rng = np.random.default_rng(1)
    n, d = 2_000, 100_000  # dense float64 would take 1.6 GB
    X = sp.random(n, d, density=1e-4, format="csr", random_state=rng)
    loss = MultinomialCrossEntropy(3)
    Y = one_hot(rng.integers(0, 3, n), 3)
    coef = rng.normal(size=(3, d))
    tracemalloc.start()
    try:
        loss.loss_gradient(coef, np.zeros(3), X, Y, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30e6, f"peak {peak / 1e6:.0f} MB suggests a dense copy of X"


def test_soft_threshold_gives_exact_zeros_and_shrinks_the_rest():
    v = np.array([-3.0, -0.5, 0.0, 0.2, 0.5, 2.0])
    np.testing.assert_array_equal(soft_threshold(v, 0.5), [-2.5, 0, 0, 0, 0, 1.5])
    assert np.count_nonzero(soft_threshold(v, 0.5)) == 2


def test_elastic_net_parts():
    W = np.array([[1.0, -2.0], [0.0, 3.0]])
    penalty = ElasticNet(l1=0.1, l2=0.5)
    assert penalty.value(W) == pytest.approx(0.25 * 14 + 0.1 * 6)
    value, grad = penalty.smooth_value_gradient(W)
    assert value == pytest.approx(0.25 * 14)
    np.testing.assert_array_equal(grad, 0.5 * W)
    np.testing.assert_allclose(penalty.prox(W, 2.0), soft_threshold(W, 0.2))
    assert ElasticNet(l2=1.0).prox(W, 2.0) is W
    assert ElasticNet(l2=1.0).is_smooth and not penalty.is_smooth


def test_one_hot_layouts():
    np.testing.assert_array_equal(one_hot([0, 1, 1], 1), [[0], [1], [1]])
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="binary loss needs 2 classes, got 3"):
        make_loss(3, multinomial=False)


@pytest.mark.parametrize("multinomial", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_pass_in_blocks_of_rows_equals_one_pass_over_the_whole_matrix(
    monkeypatch, multinomial, weighted
):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 40)).astype(np.float32)
    y = rng.integers(0, 3 if multinomial else 2, size=1000)
    loss = make_loss(3 if multinomial else 2, multinomial)
    Y = one_hot(y, loss.n_outputs)
    coef, intercept = rng.normal(size=(loss.n_outputs, 40)), rng.normal(size=loss.n_outputs)
    sw = rng.uniform(0.5, 2.0, size=1000) if weighted else None
    whole = loss.loss_gradient(coef, intercept, X, Y, sw)
    monkeypatch.setattr("logreg.linear.loss.BLOCK_BYTES", 64 * 40 * 4)  # 64-row blocks
    blocks = loss.loss_gradient(coef, intercept, X, Y, sw)
    np.testing.assert_allclose(blocks[0], whole[0], rtol=1e-6)  # float32 products
    for a, b in zip(blocks[1:], whole[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(b).max())  # float32


def test_kept_training_scores_are_those_of_the_last_evaluated_weights(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 30))
    loss = make_loss(4, True)
    Y = one_hot(rng.integers(0, 4, size=500), 4)
    coef, intercept = rng.normal(size=(4, 30)), rng.normal(size=4)
    monkeypatch.setattr("logreg.linear.loss.BLOCK_BYTES", 100 * 30 * 8)  # 5 blocks
    passes = []
    scores = type(loss)._scores
    monkeypatch.setattr(
        type(loss), "_scores", lambda self, *a: passes.append(a[2].shape[0]) or scores(self, *a)
    )
    loss.keep_scores_of(X)
    loss.loss_gradient(coef, intercept, X, Y)
    assert passes == [100] * 5
    kept = loss.raw_prediction(coef, intercept, X)
    assert passes == [100] * 5  # the kept scores, not another product
    np.testing.assert_allclose(kept, X @ coef.T + intercept, rtol=1e-12)
    kept[:] = 0  # a copy: writing into it changes nothing kept
    np.testing.assert_allclose(loss.raw_prediction(coef, intercept, X), X @ coef.T + intercept)
    # Other weights or another matrix: computed afresh.
    loss.raw_prediction(coef * 2, intercept, X)
    loss.raw_prediction(coef, intercept, X.copy())
    assert passes == [100] * 5 + [500, 500]
    loss.keep_scores_of(None)
    loss.raw_prediction(coef, intercept, X)
    assert passes[-1] == 500 and len(passes) == 8


def test_a_fitted_model_holds_no_reference_to_its_training_data():
    from logreg.linear.estimators import SoftmaxRegression

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(300, 10)), rng.integers(0, 3, size=300)
    model = SoftmaxRegression(max_iter=20).fit(X, y, eval_set=(X[:50], y[:50]))
    assert model._loss._kept is None
    assert len(model.history_["train_accuracy"]) == model.n_iter_
