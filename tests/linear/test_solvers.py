"""The solvers: agreement on the optimum, exact steps, stopping, divergence, sparsity."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.linear.exceptions import TrainingDivergedError
from logreg.linear.loss import make_loss, one_hot
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers import (
    SOLVERS,
    ConvergenceWarning,
    fista,
    gd,
    lbfgs,
    learning_rate,
    minibatch,
    newton_cd,
    newton_cg,
    objective,
    sgd,
)
from logreg.linear.solvers._common import blas_threads, limit_blas_threads


def _data(multinomial, sparse=False, seed=0, n=120, d=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    n_classes = 3 if multinomial else 2
    true_coef = rng.normal(size=(n_classes, d))
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(n, n_classes)), axis=1)
    loss = make_loss(n_classes, multinomial)
    return loss, (sp.csr_matrix(X) if sparse else X), one_hot(y, loss.n_outputs)


def _reference(loss, penalty, X, Y):
    """The optimum, to high precision, from proximal Newton coordinate descent."""
    return newton_cd(loss, penalty, X, Y, None, max_iter=500, tol=1e-12)


@pytest.mark.parametrize(
    "penalty",
    [ElasticNet(l2=0.05), ElasticNet(l1=0.02), ElasticNet(l1=0.01, l2=0.05)],
    ids=["l2", "l1", "elasticnet"],
)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "softmax"])
def test_deterministic_solvers_reach_the_same_optimum(multinomial, sparse, penalty):
    loss, X, Y = _data(multinomial, sparse)
    coef_ref, b_ref, *_ = _reference(loss, penalty, X, Y)
    optimum = objective(loss, penalty, coef_ref, b_ref, X, Y, None)
    candidates = {
        "newton_cd": newton_cd(loss, penalty, X, Y, max_iter=500, tol=1e-9),
        "fista": fista(loss, penalty, X, Y, max_iter=5000, tol=1e-9),
        "gd": gd(loss, penalty, X, Y, lr=1.0, max_iter=20000, tol=1e-9),
    }
    if penalty.is_smooth:
        candidates["lbfgs"] = lbfgs(loss, penalty, X, Y, max_iter=500, tol=1e-9)
        candidates["newton_cg"] = newton_cg(loss, penalty, X, Y, max_iter=100, tol=1e-9)
    for name, (coef, intercept, *_) in candidates.items():
        gap = (objective(loss, penalty, coef, intercept, X, Y, None) - optimum) / optimum
        assert gap < 1e-8, name
        scale = np.abs(coef_ref).max()
        np.testing.assert_allclose(coef, coef_ref, atol=1e-6 * scale, err_msg=name)
        np.testing.assert_allclose(intercept, b_ref, atol=1e-6 * scale, err_msg=name)
        if not penalty.is_smooth:  # exact zeros in the same places
            np.testing.assert_array_equal(coef == 0, coef_ref == 0, err_msg=name)


@pytest.mark.parametrize(
    "penalty", [ElasticNet(l2=0.05), ElasticNet(l1=0.02, l2=0.01)], ids=["l2", "elasticnet"]
)
@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_stochastic_solvers_approach_the_optimum(solver, penalty):
    loss, X, Y = _data(multinomial=True)
    coef_ref, b_ref, *_ = _reference(loss, penalty, X, Y)
    options = (
        {"batch_size": 10, "lr": 0.5, "decay": 0.2, "max_iter": 100}
        if solver == "minibatch"
        else {"lr": 0.1, "decay": 0.5, "max_iter": 60}
    )
    with pytest.warns(ConvergenceWarning):  # tol=0 cannot be met
        coef, intercept, _, history, _ = SOLVERS[solver](
            loss,
            penalty,
            X,
            Y,
            rng=np.random.default_rng(0),
            lr_schedule="invscaling",
            tol=0.0,
            **options,
        )
    # Decaying steps leave a small stochastic error: the objective is nearly optimal.
    optimum = objective(loss, penalty, coef_ref, b_ref, X, Y, None)
    assert history["loss"][-1] - optimum < 1e-3 * optimum
    np.testing.assert_allclose(coef, coef_ref, atol=0.03)


def test_course_sgd_step():
    # Course example: x = (3, 2), y = 1, zero weights, lr 0.1: the gradient is
    # (sigma(0) - 1) x = (-1.5, -1), so one step gives w = (0.15, 0.1), b = 0.05.
    loss = make_loss(2, multinomial=False)
    X, Y = np.array([[3.0, 2.0]]), np.array([[1.0]])
    with pytest.warns(ConvergenceWarning):
        coef, intercept, n_iter, *_ = sgd(
            loss, ElasticNet(), X, Y, lr=0.1, max_iter=1, rng=np.random.default_rng(0)
        )
    np.testing.assert_allclose(coef, [[0.15, 0.1]], rtol=1e-15)
    np.testing.assert_allclose(intercept, [0.05], rtol=1e-15)
    assert n_iter == 1


def test_learning_rate_schedules():
    assert learning_rate(0.5, "constant", 0.3, 7) == 0.5
    assert learning_rate(0.5, "invscaling", 0.5, 4) == pytest.approx(0.5 / 3)
    assert learning_rate(0.5, "exponential", 0.5, 3) == pytest.approx(0.0625)
    with pytest.raises(ValueError, match="lr_schedule must be one of .* got 'cosine'"):
        learning_rate(0.5, "cosine", 0.5, 3)


def test_momentum_reaches_the_optimum_in_fewer_epochs():
    loss, X, Y = _data(multinomial=False)
    penalty = ElasticNet(l2=0.05)
    plain = gd(loss, penalty, X, Y, lr=0.2, max_iter=5000, tol=1e-8)
    heavy = gd(loss, penalty, X, Y, lr=0.2, momentum=0.8, max_iter=5000, tol=1e-8)
    np.testing.assert_allclose(heavy[0], plain[0], atol=1e-6)
    assert heavy[2] < plain[2] / 2


@pytest.mark.parametrize(
    "solver", ["gd", "sgd", "minibatch", "lbfgs", "fista", "newton_cd", "newton_cg"]
)
def test_max_iter_stop_warns_and_history_has_one_entry_per_epoch(solver):
    loss, X, Y = _data(multinomial=True)
    options = {"rng": np.random.default_rng(0)} if solver in ("sgd", "minibatch") else {}
    with pytest.warns(ConvergenceWarning, match=f"{solver} did not converge in max_iter=3"):
        coef, intercept, n_iter, history, _ = SOLVERS[solver](
            loss, ElasticNet(l2=1e-3), X, Y, max_iter=3, tol=1e-12, **options
        )
    assert n_iter == 3 and len(history["loss"]) == 3
    assert history["loss"][-1] < objective(
        loss, ElasticNet(l2=1e-3), np.zeros_like(coef), np.zeros(3), X, Y, None
    )


def test_callback_true_stops_without_warning():
    loss, X, Y = _data(multinomial=False)
    seen = []

    def stop_at_two(epoch, coef, intercept, value):
        seen.append((epoch, value))
        return epoch == 2

    for solver in (gd, lbfgs, fista, newton_cd, newton_cg):
        seen.clear()
        _, _, n_iter, history, _ = solver(
            loss, ElasticNet(l2=0.01), X, Y, max_iter=50, tol=0.0, callback=stop_at_two
        )
        assert n_iter == 2 and [v for _, v in seen] == history["loss"]


@pytest.mark.parametrize("solver", ["gd", "sgd", "minibatch"])
def test_divergence_names_the_learning_rate(solver):
    loss, X, Y = _data(multinomial=False)
    options = {"rng": np.random.default_rng(0)} if solver != "gd" else {}
    # lr * l2 = 50 > 2: the L2 step multiplies the weights by -49 each time.
    with pytest.raises(
        TrainingDivergedError,
        match=r"diverged in epoch \d+.*lr=10; use a smaller learning "
        r"rate, e.g. lr=1\b",
    ):
        SOLVERS[solver](loss, ElasticNet(l2=5.0), X, Y, lr=10.0, max_iter=500, **options)


def test_sgd_divergence_is_caught_in_the_epoch_it_happens():
    loss, X, Y = _data(multinomial=False, n=2000)
    # 2000 steps that each multiply the weights by -49 overflow in the first epoch.
    with pytest.raises(TrainingDivergedError, match="diverged in epoch 1:"):
        sgd(loss, ElasticNet(l2=5.0), X, Y, lr=10.0, max_iter=5, rng=np.random.default_rng(0))


def test_l1_sparsity_grows_with_l1_and_subgradient_gives_none():
    loss, X, Y = _data(multinomial=True, d=30)
    zeros = []
    for l1 in [0.0, 0.005, 0.02, 0.05, 0.1]:
        coef = fista(loss, ElasticNet(l1=l1), X, Y, max_iter=3000, tol=1e-9)[0]
        zeros.append(int(np.sum(coef == 0.0)))
    assert zeros[0] == 0 and zeros[-1] > zeros[1] > 0
    assert all(a <= b for a, b in zip(zeros, zeros[1:])), zeros

    # The course's subgradient step w -= lr (grad + l1 sign(w)) oscillates around zero
    # instead of landing on it: no exact zeros at the same l1.
    coef, intercept = np.zeros((3, X.shape[1])), np.zeros(3)
    for _ in range(2000):
        _, g, gb = loss.loss_gradient(coef, intercept, X, Y)
        coef -= 0.5 * (g + 0.05 * np.sign(coef))
        intercept -= 0.5 * gb
    assert np.sum(coef == 0.0) == 0
    # ... while proximal steps land on exact zeros: gd on the optimum's, and even the
    # noisy minibatch steps on many.
    coef = gd(loss, ElasticNet(l1=0.05), X, Y, lr=0.5, max_iter=2000, tol=1e-7)[0]
    assert np.sum(coef == 0.0) == zeros[3]
    with pytest.warns(ConvergenceWarning):
        coef = minibatch(
            loss,
            ElasticNet(l1=0.05),
            X,
            Y,
            lr=0.5,
            max_iter=50,
            tol=1e-9,
            rng=np.random.default_rng(0),
        )[0]
    assert np.sum(coef == 0.0) >= zeros[3] // 3


@pytest.mark.parametrize("solver", ["lbfgs", "newton_cg"])
def test_smooth_solvers_reject_l1(solver):
    loss, X, Y = _data(multinomial=False)
    with pytest.raises(ValueError, match=rf"{solver} cannot handle an L1 penalty \(l1=0.1\)"):
        SOLVERS[solver](loss, ElasticNet(l1=0.1), X, Y)


def test_objective_decreases_monotonically_for_lbfgs_and_gd():
    loss, X, Y = _data(multinomial=True)
    penalty = ElasticNet(l2=0.01)
    history = lbfgs(loss, penalty, X, Y, max_iter=100, tol=1e-10)[3]["loss"]
    assert np.all(np.diff(history) <= 0)
    with pytest.warns(ConvergenceWarning, match="gd did not converge"):
        history = gd(loss, penalty, X, Y, max_iter=100, tol=1e-10)[3]["loss"]
    assert np.all(np.diff(history) <= 0)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_lbfgs_runs_on_one_blas_thread_and_restores_the_count(sparse):
    # Waking BLAS threads for scipy's vector operations costs more than the
    # operations when the cores are busy; a fit must not change the caller's setting.
    loss, X, Y = _data(multinomial=True, sparse=sparse)
    seen = []
    with limit_blas_threads(2):
        lbfgs(
            loss,
            ElasticNet(l2=0.05),
            X,
            Y,
            max_iter=50,
            tol=1e-8,
            callback=lambda *args: seen.append(blas_threads()),
        )
        assert blas_threads() == 2
    assert seen and set(seen) == {1}


@pytest.mark.parametrize("solver", ["fista", "newton_cd"])
def test_l1_solvers_reach_the_optimum_on_float32_sparse_data(solver):
    # With float32 products (weights rounded to float32) FISTA's backtracking saw
    # rounding instead of progress and froze at a relative gap ~1e-4: both solvers
    # compute with a float64 copy of sparse float32 data.
    loss, X, Y = _data(multinomial=False, sparse=True, d=30)
    X32 = X.astype(np.float32)
    penalty = ElasticNet(l1=0.01)
    coef_ref, b_ref, *_ = _reference(loss, penalty, X, Y)
    optimum = objective(loss, penalty, coef_ref, b_ref, X, Y, None)
    coef, intercept, n_iter, *_ = SOLVERS[solver](loss, penalty, X32, Y, max_iter=5000, tol=1e-10)
    assert objective(loss, penalty, coef, intercept, X, Y, None) - optimum < 1e-12 * optimum


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_newton_cd_binary_sparse_sweeps_reach_the_optimum(fit_intercept):
    # The binary CSR case has its own sweeps (intercept kept optimal through centered
    # columns, Anderson extrapolation): the same optimum as fista's, to 1e-10.
    _, X, Y = _data(multinomial=False, sparse=True, d=30)
    loss = make_loss(2, multinomial=False, fit_intercept=fit_intercept)
    penalty = ElasticNet(l1=0.01, l2=0.001)
    coef, intercept, *_ = newton_cd(loss, penalty, X, Y, max_iter=100, tol=1e-10)
    reference = fista(loss, penalty, X.toarray(), Y, max_iter=20000, tol=1e-10)
    optimum = objective(loss, penalty, reference[0], reference[1], X, Y, None)
    assert objective(loss, penalty, coef, intercept, X, Y, None) - optimum < 1e-10 * optimum
    np.testing.assert_array_equal(coef == 0, reference[0] == 0)
    if not fit_intercept:
        assert not intercept.any()


def test_newton_cd_warm_start_on_float32_csr_is_exact():
    # The starting scores of a warm start are summed in float64 from the float32 data,
    # so the fit reaches the optimum of the float64 copy of the data.
    _, X, Y = _data(multinomial=False, sparse=True, d=30)
    loss, penalty = make_loss(2, multinomial=False), ElasticNet(l1=0.01)
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    coef_ref, b_ref, *_ = _reference(loss, penalty, X64, Y)
    nearby = newton_cd(loss, ElasticNet(l1=0.011), X32, Y, max_iter=100, tol=1e-10)
    coef, intercept, *_ = newton_cd(
        loss, penalty, X32, Y, coef0=nearby[0], intercept0=nearby[1], max_iter=100, tol=1e-12
    )
    # Measured: 4e-12 from the float64 optimum; 8e-8 with scores from scipy's product.
    np.testing.assert_allclose(coef, coef_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(intercept, b_ref, rtol=0, atol=1e-10)
