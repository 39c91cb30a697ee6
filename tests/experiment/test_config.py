"""The config layer maps onto the estimator: one owner for each hyperparameter rule."""

import inspect

import pytest

from logreg.errors import ConfigError
from logreg.experiment.config import (
    PARAMETER_KEYS,
    applicable_params,
    build_estimator,
    check_config,
    compose,
)
from logreg.linear.estimators import LogisticRegression


def test_every_estimator_hyperparameter_has_one_config_key_and_its_default():
    signature = inspect.signature(LogisticRegression.__init__).parameters
    # The seed, the progress bar, and warm starts (regularization paths set them, not users).
    owned_by_the_run = {"self", "random_state", "verbose", "warm_start"}
    assert set(PARAMETER_KEYS) == set(signature) - owned_by_the_run
    cfg = compose(["optimizer.solver=auto"])  # the dataclass defaults, where YAML is silent
    estimator = build_estimator(cfg)
    for name, key in PARAMETER_KEYS.items():
        group, field = key.split(".")
        assert getattr(estimator, name) == cfg[group][field], key
    # The dataclasses' defaults are the estimator's (the YAML presets override some).
    from logreg.experiment.config import OptimizerConfig, PenaltyConfig

    for config_class in (OptimizerConfig, PenaltyConfig):
        for field, value in vars(config_class()).items():
            assert value == signature[field].default, field


def test_build_estimator_passes_every_value_through():
    cfg = compose(
        [
            "optimizer=minibatch",
            "optimizer.batch_size=7",
            "penalty=elasticnet",
            "model.class_weight=balanced",
            "seed=11",
        ]
    )
    params = build_estimator(cfg).get_params()
    assert params["batch_size"] == 7 and params["solver"] == "minibatch"
    assert params["l1"] == cfg.penalty.l1 and params["l2"] == cfg.penalty.l2
    assert params["class_weight"] == "balanced" and params["random_state"] == 11


@pytest.mark.parametrize(
    "override, key",
    [
        ("optimizer.momentum=1.5", "optimizer.momentum"),
        ("optimizer.patience=0", "optimizer.patience"),
        ("model.class_weight=heavy", "model.class_weight"),
    ],
)
def test_the_estimators_own_checks_name_the_config_key(override, key):
    """(The CLI cases, one per rule, are in tests/hostile/test_hostile_config.py.)"""
    with pytest.raises(ConfigError, match=rf"^config key '{key}': "):
        check_config(compose([override]))


def test_a_run_logs_only_the_parameters_that_apply():
    reviews = applicable_params(compose(["experiment=reviews"]))
    assert "dataset.mean0" not in reviews and "optimizer.lr" not in reviews
    assert reviews["dataset.domain"] == "electronics"
    # The preset's selection chooses l2: the configured value is not what runs, so it is
    # not logged (the chosen one is, as fit.l2, after the path).
    assert "penalty.l2" not in reviews and reviews["selection.high"] == 0.01
    fixed = applicable_params(compose(["experiment=reviews", "selection=fixed"]))
    assert fixed["penalty.l2"] == 0.0002 and "selection.high" not in fixed
    sgd = applicable_params(compose(["experiment=gaussian_clouds", "optimizer=sgd"]))
    assert {"optimizer.lr", "optimizer.decay", "dataset.mean0"} <= set(sgd)
    assert "optimizer.batch_size" not in sgd and "dataset.domain" not in sgd
    assert not any(key.startswith(("tracking.", "paths.")) for key in sgd)


def test_a_setting_that_would_be_replaced_or_ignored_is_refused():
    from logreg.experiment.config import check_overrides

    reviews = compose(["experiment=reviews", "penalty.l2=0.01"])
    with pytest.raises(ConfigError, match=r"^config key 'penalty\.l2': .*selection=fixed"):
        check_overrides(reviews, ["experiment=reviews", "penalty.l2=0.01"])
    # Honoured with selection=fixed; the other penalty is not the path's, so it is used.
    check_overrides(compose(["experiment=reviews", "selection=fixed"]), ["penalty.l2=0.01"])
    check_overrides(reviews, ["penalty.l1=0.001"])
    with pytest.raises(ConfigError, match=r"^config key 'penalty\.l3': '\+penalty\.l3=0\.01'"):
        check_overrides(compose([]), ["+penalty.l3=0.01"])
    check_overrides(compose([]), ["+dataset.classes=[0,1]", "+hparams_search=optuna"])
