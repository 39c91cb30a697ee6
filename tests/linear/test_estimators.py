"""The estimators: parameters, inputs, outputs, early stopping, reproducibility."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from logreg import LogisticRegression, SoftmaxRegression
from logreg.linear.estimators import ConvergenceWarning
from logreg.linear.exceptions import TrainingDivergedError
from logreg.linear.solvers._common import progress_bar
from logreg.linear.validation import NotFittedError

SOLVERS = ["lbfgs", "newton_cg", "fista", "newton_cd", "gd", "sgd", "minibatch"]


def _blobs(n=150, d=4, n_classes=3, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, d))
    y = rng.integers(0, n_classes, size=n)
    X = centers[y] + rng.normal(size=(n, d))
    return X, (y if labels is None else np.asarray(labels)[y])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"l2": -1.0}, r"l2 must be >= 0, got -1.0"),
        ({"l1": float("nan")}, r"l1 must be >= 0, got nan"),
        ({"solver": "newton"}, r"solver must be one of .* got 'newton'"),
        (
            {"solver": "lbfgs", "l1": 0.1},
            r"solver='lbfgs' cannot handle an L1 penalty \(l1=0.1\); use one of gd, sgd, "
            r"minibatch, fista, newton_cd",
        ),
        ({"lr": 0}, r"lr must be > 0, got 0"),
        ({"lr_schedule": "cosine"}, r"lr_schedule must be one of .* got 'cosine'"),
        (
            {"lr_schedule": "exponential", "decay": 1.5},
            r"decay must be in \(0, 1\] for lr_schedule='exponential', got 1.5",
        ),
        ({"decay": -0.1}, r"decay must be >= 0, got -0.1"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
        ({"max_iter": 2.5}, r"max_iter must be an integer >= 1, got 2.5"),
        ({"patience": 0}, r"patience must be an integer >= 1, got 0"),
        ({"tol": -1e-3}, r"tol must be >= 0, got -0.001"),
        ({"early_stopping": "yes"}, r"early_stopping must be True or False, got 'yes'"),
        ({"fit_intercept": 1}, r"fit_intercept must be True or False, got 1"),
        ({"class_weight": "auto"}, r"class_weight must be None, 'balanced' or a dict"),
        (
            {"class_weight": {7: 1.0}},
            r"class_weight has a weight for label 7, which is "
            r"not among the classes \[0, 1\]",
        ),
        (
            {"random_state": -3},
            r"random_state must be None, an integer >= 0 or a "
            r"numpy.random.Generator, got -3",
        ),
        ({"verbose": -1}, r"verbose must be an integer >= 0, got -1"),
        (
            {"solver": "minibatch", "batch_size": 500},
            r"batch_size=500 is larger than the number of training samples \(150\)",
        ),
    ],
)
def test_bad_parameters_fail_in_fit_naming_parameter_and_value(params, message):
    X, y = _blobs(n_classes=2)
    model = LogisticRegression(**params)  # __init__ only stores
    name, value = next(iter(params.items()))
    assert model.get_params()[name] is value
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)


def test_parameters_round_trip_and_unknown_names_fail():
    model = SoftmaxRegression(l2=0.5, solver="gd")
    params = model.get_params()
    assert params["l2"] == 0.5 and params["solver"] == "gd" and len(params) == 18
    assert SoftmaxRegression(**params).get_params() == params
    assert model.set_params(lr=0.01, momentum=0.9) is model and model.lr == 0.01
    with pytest.raises(
        ValueError, match="Invalid parameter 'alpha' for estimator SoftmaxRegression"
    ):
        model.set_params(alpha=1.0)
    assert repr(model) == "SoftmaxRegression(l2=0.5, lr=0.01, momentum=0.9, solver='gd')"


def test_any_labels_and_output_shapes():
    X, y = _blobs(labels=["cat", "dog", "emu"])
    model = SoftmaxRegression(l2=0.01).fit(X, y)
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    assert set(model.predict(X)) <= {"cat", "dog", "emu"}
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.decision_function(X).shape == (150, 3)
    assert model.score(X, y) > 0.8 and model.n_features_in_ == 4

    Xb, yb = _blobs(n_classes=2, labels=[-1, 1])
    binary = LogisticRegression(l2=0.01).fit(Xb, yb)
    assert binary.coef_.shape == (1, 4) and binary.intercept_.shape == (1,)
    scores = binary.decision_function(Xb)
    assert scores.shape == (150,)
    np.testing.assert_array_equal(binary.predict(Xb), np.where(scores > 0, 1, -1))
    proba = binary.predict_proba(Xb)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)))


def test_softmax_on_two_classes_matches_logistic_regression():
    X, y = _blobs(n_classes=2)
    logistic = LogisticRegression(l2=0.1, tol=1e-10).fit(X, y)
    softmax = SoftmaxRegression(l2=0.1, tol=1e-10).fit(X, y)
    # Under L2 the softmax weights are symmetric, W = (-w/2, w/2) with l2 doubled for
    # w, so both give the same log-odds when the softmax l2 is twice the logistic one.
    softmax2 = SoftmaxRegression(l2=0.2, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(
        softmax2.decision_function(X), logistic.decision_function(X), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        softmax2.predict_proba(X), logistic.predict_proba(X), rtol=1e-6, atol=1e-8
    )
    assert softmax.coef_.shape == (2, 4)


def test_class_count_errors():
    X, y = _blobs(n_classes=3)
    with pytest.raises(
        ValueError,
        match="Only binary classification is supported.*3 classes.*use SoftmaxRegression",
    ):
        LogisticRegression().fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"needs samples of at least 2 classes; got 1 "
        r"class: \[4\]",
    ):
        SoftmaxRegression().fit(X, np.full(150, 4))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        SoftmaxRegression().fit(X, X[:, 0])


def test_data_errors():
    X, y = _blobs(n_classes=2)
    model = LogisticRegression()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(X)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.fit(X_nan, y)
    with pytest.raises(ValueError, match="X has 150 samples but y has 149 labels"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        model.fit(X[:, 0], y)
    with pytest.raises(
        ValueError,
        match=r"sample_weight must be >= 0, got a minimum "
        r"of -1",
    ):
        model.fit(X, y, sample_weight=np.r_[-1.0, np.ones(149)])
    model.fit(X, y)
    with pytest.raises(
        ValueError,
        match="X has 3 features, but LogisticRegression is expecting 4 features as input",
    ):
        model.predict(X[:, :3])


@pytest.mark.parametrize("solver", SOLVERS)
def test_same_seed_gives_bit_identical_coefficients(solver):
    X, y = _blobs(n=150, d=6, n_classes=3)
    params = {
        "solver": solver,
        "l2": 0.01,
        "l1": 0.0 if solver in ("lbfgs", "newton_cg") else 0.01,
        "max_iter": 10,
        "batch_size": 16,
        "lr": 0.1,
        "random_state": 7,
        "tol": 0.0,
    }
    with pytest.warns(ConvergenceWarning):
        first = SoftmaxRegression(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        second = SoftmaxRegression(**params).fit(X, y)
    assert first.coef_.tobytes() == second.coef_.tobytes()
    assert first.intercept_.tobytes() == second.intercept_.tobytes()
    assert first.history_ == second.history_
    if solver in ("sgd", "minibatch"):  # the seed is what drives the shuffling
        with pytest.warns(ConvergenceWarning):
            other = SoftmaxRegression(**{**params, "random_state": 8}).fit(X, y)
        assert not np.array_equal(other.coef_, first.coef_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_history_with_eval_set_has_equal_length_lists(solver):
    X, y = _blobs(n=200)
    X_val, y_val = _blobs(n=60, seed=0)
    model = SoftmaxRegression(solver=solver, l2=0.01, max_iter=8, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y, eval_set=(X_val, y_val))
    history = model.history_
    assert set(history) == {"loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == len(history["val_loss"]) == model.n_iter_ == 8
    assert len(history["val_accuracy"]) == 8
    assert history["val_accuracy"][-1] == model.score(X_val, y_val)
    assert all(0 <= a <= 1 for a in history["val_accuracy"])


def test_early_stopping_restores_the_best_epoch():
    # Few samples, many noise features, no penalty: validation loss turns up.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 60))
    y = (X[:, 0] + rng.normal(size=80) > 0).astype(int)
    X_val = rng.normal(size=(200, 60))
    y_val = (X_val[:, 0] + rng.normal(size=200) > 0).astype(int)
    params = {"solver": "gd", "lr": 0.5, "max_iter": 500, "patience": 3}
    model = LogisticRegression(early_stopping=True, **params).fit(X, y, eval_set=(X_val, y_val))
    val_loss = model.history_["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert model.best_epoch_ == best and model.n_iter_ == best + 3 < 500
    # gd is deterministic: the restored weights are those after `best` epochs.
    with pytest.warns(ConvergenceWarning):
        rerun = LogisticRegression(**{**params, "max_iter": best}).fit(X, y)
    np.testing.assert_array_equal(model.coef_, rerun.coef_)
    np.testing.assert_array_equal(model.intercept_, rerun.intercept_)


def test_early_stopping_without_eval_set_holds_out_a_stratified_tenth():
    X, y = _blobs(n=300, n_classes=3)
    model = SoftmaxRegression(
        early_stopping=True, solver="minibatch", lr=0.05, max_iter=200, patience=2, random_state=1
    ).fit(X, y)
    assert model.best_epoch_ is not None and model.n_iter_ < 200
    assert len(model.history_["val_loss"]) == model.n_iter_
    # 10% of each class: accuracies are multiples of 1 / (validation size)
    n_val = sum(max(1, round(0.1 * c)) for c in np.bincount(y))
    assert all(abs(a * n_val - round(a * n_val)) < 1e-9 for a in model.history_["val_accuracy"])
    with pytest.raises(ValueError, match="too few; pass eval_set"):
        LogisticRegression(early_stopping=True).fit(X[:2], [0, 1])


def test_class_weight_balanced_equals_the_equivalent_sample_weights():
    X, y = _blobs(n=200, n_classes=3)
    y[:120] = 0  # imbalanced
    counts = np.bincount(y)
    balanced = SoftmaxRegression(l2=0.01, class_weight="balanced", tol=1e-10).fit(X, y)
    weights = (len(y) / (3 * counts))[y]
    manual = SoftmaxRegression(l2=0.01, tol=1e-10).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(balanced.coef_, manual.coef_, rtol=1e-7, atol=1e-10)
    unweighted = SoftmaxRegression(l2=0.01, tol=1e-10).fit(X, y)
    assert not np.allclose(unweighted.coef_, balanced.coef_, atol=1e-3)


def test_integer_sample_weights_equal_repeated_samples():
    X, y = _blobs(n=60, n_classes=2)
    weights = np.random.default_rng(0).integers(0, 4, size=60)
    weighted = LogisticRegression(l2=0.01, tol=1e-12).fit(X, y, sample_weight=weights)
    repeated = LogisticRegression(l2=0.01, tol=1e-12).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8)


@pytest.mark.parametrize("solver", ["lbfgs", "newton_cg", "fista", "newton_cd", "gd"])
def test_sparse_and_dense_inputs_give_the_same_model(solver):
    X, y = _blobs(n=200, d=8)
    X[np.abs(X) < 1.0] = 0.0
    # Same iterations on both layouts (tol=0 runs all of them).
    params = {
        "solver": solver,
        "l2": 0.01,
        "l1": 0.0 if solver in ("lbfgs", "newton_cg") else 0.005,
        "tol": 0.0,
        "max_iter": 30,
        "lr": 0.5,
    }
    with pytest.warns(ConvergenceWarning):
        dense = SoftmaxRegression(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        sparse = SoftmaxRegression(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), atol=1e-8
    )


def test_float32_input_is_not_copied_to_float64():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 250)).astype(np.float32)  # 20 MB; float64: 40 MB
    y = (X[:, 0] > 0).astype(int)
    tracemalloc.start()
    try:
        model = LogisticRegression(l2=0.1, max_iter=20).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes, f"peak {peak / 1e6:.1f} MB: X was copied"
    assert model.score(X, y) > 0.95


def test_l1_sparsity_grows_with_l1():
    X, y = _blobs(n=300, d=20, n_classes=3)
    zeros = [
        int(np.sum(SoftmaxRegression(l1=l1, tol=1e-8, max_iter=2000).fit(X, y).coef_ == 0))
        for l1 in [0.0, 0.01, 0.05, 0.2]
    ]
    assert zeros[0] == 0 < zeros[1] <= zeros[2] <= zeros[3]
    assert SoftmaxRegression(l1=0.05).fit(X, y).solver_ == "newton_cd"


def test_divergence_error_names_the_learning_rate():
    X, y = _blobs(n_classes=2)
    with pytest.raises(
        TrainingDivergedError,
        match=r"lr=100; use a smaller learning "
        r"rate, e.g. lr=10",
    ):
        LogisticRegression(solver="gd", lr=100.0, l2=1.0, max_iter=1000).fit(X, y)


def test_pickle_round_trip_and_refit_is_idempotent():
    X, y = _blobs()
    model = SoftmaxRegression(l2=0.01).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))
    first = model.coef_.copy()
    np.testing.assert_array_equal(model.fit(X, y).coef_, first)


def test_progress_bar_is_silent_unless_asked():
    assert progress_bar(10, verbose=0, solver="gd").disable


@pytest.mark.parametrize("solver", ["lbfgs", "newton_cg", "newton_cd", "fista", "gd"])
def test_warm_start_reaches_the_cold_start_optimum_faster(solver):
    X, y = _blobs(n=200, d=8)
    l1 = 0.0 if solver in ("lbfgs", "newton_cg") else 0.01
    params = {"solver": solver, "tol": 1e-8, "max_iter": 20000, "lr": 0.5}
    cold = SoftmaxRegression(l1=l1, l2=0.01, **params).fit(X, y)
    warm = SoftmaxRegression(l1=1.05 * l1, l2=0.0105, warm_start=True, **params)
    warm.fit(X, y).set_params(l1=l1, l2=0.01)
    first = warm.coef_.copy()
    warm.fit(X, y)
    np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-5)
    np.testing.assert_allclose(warm.intercept_, cold.intercept_, atol=1e-5)
    assert warm.n_iter_ < cold.n_iter_
    # Without warm_start the second fit starts from zero again: same as cold.
    again = SoftmaxRegression(l1=l1, l2=0.01, **params).fit(X, y)
    np.testing.assert_array_equal(again.coef_, cold.coef_)
    assert not np.array_equal(first, warm.coef_)


def test_warm_start_ignores_weights_of_another_shape():
    X, y = _blobs(n=200, d=8)
    model = SoftmaxRegression(l2=0.01, warm_start=True, tol=1e-10).fit(X[:, :5], y)
    model.fit(X, y)
    cold = SoftmaxRegression(l2=0.01, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.coef_, cold.coef_, atol=1e-6)


def test_coef_init_starts_the_fit_from_given_weights():
    X, y = _blobs(n=200, d=8)
    cold = SoftmaxRegression(l2=0.01, tol=1e-8, max_iter=1000).fit(X, y)
    nearby = SoftmaxRegression(l2=0.0105, tol=1e-8, max_iter=1000).fit(X, y)
    started = SoftmaxRegression(l2=0.01, tol=1e-8, max_iter=1000).fit(
        X, y, coef_init=nearby.coef_, intercept_init=nearby.intercept_
    )
    np.testing.assert_allclose(started.coef_, cold.coef_, atol=1e-5)
    assert started.n_iter_ < cold.n_iter_
    # From the optimum itself there is nothing left to do.
    again = SoftmaxRegression(l2=0.01, tol=1e-8).fit(
        X, y, coef_init=cold.coef_, intercept_init=cold.intercept_
    )
    assert again.n_iter_ <= 1


@pytest.mark.parametrize(
    ("coef", "intercept", "key"),
    [(np.zeros((2, 8)), None, "coef_init"), (np.zeros((3, 8)), np.zeros(2), "intercept_init"),
     (np.full((3, 8), np.nan), None, "coef_init")],
)  # fmt: skip
def test_coef_init_of_the_wrong_shape_names_the_parameter(coef, intercept, key):
    X, y = _blobs(n=200, d=8)
    with pytest.raises(ValueError, match=key):
        SoftmaxRegression().fit(X, y, coef_init=coef, intercept_init=intercept)
