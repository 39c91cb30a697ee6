r"""Regularized logistic (binary) and softmax (K-class) regression estimators.

Both estimators minimize, over weights :math:`W` and intercepts :math:`b`,

.. math::

    J(W, b) = \frac{1}{N}\sum_{i=1}^{N} s_i\,\mathrm{CE}\big(y_i,
              \mathrm{softmax}(W x_i + b)\big)
              + \frac{\lambda_2}{2}\lVert W\rVert_F^2 + \lambda_1\lVert W\rVert_1,

with :math:`\lambda_1` = ``l1`` and :math:`\lambda_2` = ``l2`` (both > 0 is
ElasticNet), the intercept unpenalized, and :math:`s_i` = sample weight times class
weight, normalized to mean 1. :class:`LogisticRegression` uses the sigmoid
(``W`` of shape ``(1, d)``), which is the softmax of the scores ``(0, w x + b)``.
Weights start at zero (at the previous fit's with ``warm_start=True``).

Relation to scikit-learn: its ``LogisticRegression(C=C)`` minimizes
``C * sum_i r_i CE_i + ||W||^2 / 2`` with raw weights ``r_i`` (sample weight times
class weight). Dividing by ``C * sum_i r_i`` gives :math:`J` with

.. math::  \lambda_2 = \frac{1}{C \sum_i r_i} \quad (= 1/(C N) \text{ for unit weights}),

and likewise ``l1 = 1 / (C * sum_i r_i)`` for its ``penalty="l1"``.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import numbers
import sys

import numpy as np

from logreg.linear.exceptions import InvalidParameterError
from logreg.linear.loss import make_loss, one_hot
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers import (
    LR_SCHEDULES,
    LR_SOLVERS,
    SMOOTH_ONLY_SOLVERS,
    SOLVER_NAMES,
    SOLVERS,
    STOCHASTIC_SOLVERS,
    ConvergenceWarning,
    resolve_solver,
)
from logreg.linear.solvers._common import objective
from logreg.linear.solvers.preconditioner import PRECONDITIONERS
from logreg.linear.streamed import check_streamable, sparse_like
from logreg.linear.validation import (
    check_features,
    check_labels,
    check_sample_weight,
    not_fitted_error,
    stratified_holdout,
)

log = logging.getLogger(__name__)

__all__ = ["ConvergenceWarning", "LogisticRegression", "SoftmaxRegression"]

VALIDATION_FRACTION = 0.1
"""Share of each class held out for early stopping when no ``eval_set`` is given."""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class _ValidationMonitor:
    """Solver callback: training accuracy and validation loss/accuracy per epoch, early
    stopping, best weights."""

    def __init__(
        self, loss, X_val, y_val, class_weights, early_stopping, patience, X_train, y_train
    ):
        self.loss, self.X_val, self.y_val = loss, X_val, y_val
        self.X_train, self.y_train = X_train, y_train
        self.Y_val = one_hot(y_val, loss.n_outputs)
        self.weight = None
        if class_weights is not None:
            weight = class_weights[y_val]
            self.weight = weight * (weight.size / weight.sum()) if weight.any() else None
        self.early_stopping, self.patience = early_stopping, patience
        self.history = {"train_accuracy": [], "val_loss": [], "val_accuracy": []}
        self.best = (np.inf, None, None, None)  # loss, epoch, coef, intercept
        self.epochs_without_improvement = 0

    def _accuracy(self, raw, y) -> float:
        predicted = (raw[:, 0] > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(1)
        return float(np.mean(predicted == y))

    def __call__(self, epoch, coef, intercept, value):
        raw = self.loss.raw_prediction(coef, intercept, self.X_val)
        val_loss = self.loss.loss_from_raw(raw, self.Y_val, self.weight)
        train_raw = self.loss.raw_prediction(coef, intercept, self.X_train)
        self.history["train_accuracy"].append(self._accuracy(train_raw, self.y_train))
        self.history["val_loss"].append(val_loss)
        self.history["val_accuracy"].append(self._accuracy(raw, self.y_val))
        if not self.early_stopping:
            return False
        if val_loss < self.best[0]:
            self.best = (val_loss, epoch, coef.copy(), intercept.copy())
            self.epochs_without_improvement = 0
            return False
        self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience


class _LinearClassifier:
    """Shared implementation; see :class:`LogisticRegression` for the parameters."""

    _multinomial = False

    def __init__(
        self,
        l1=0.0,
        l2=0.0,
        solver="auto",
        lr=0.1,
        lr_schedule="constant",
        decay=0.9,
        momentum=0.0,
        batch_size=32,
        max_iter=100,
        tol=1e-4,
        early_stopping=False,
        patience=5,
        class_weight=None,
        fit_intercept=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        precondition="none",
    ):
        self.l1 = l1
        self.l2 = l2
        self.solver = solver
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.decay = decay
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.patience = patience
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.precondition = precondition

    # -- scikit-learn estimator protocol -------------------------------------------
    @classmethod
    def _get_param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p for p in signature.parameters if p != "self")

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; they are validated by the next :meth:`fit`."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator "
                    f"{type(self).__name__}. Valid parameters are: {valid}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name in self._get_param_names()
            if not _same(getattr(self, name), defaults[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        # Only scikit-learn calls this, so it is loaded: take its tag classes from it
        # rather than import it (like logreg.linear.validation.sklearn_compatible).
        tags = sys.modules["sklearn.utils"]
        return tags.Tags(
            estimator_type="classifier",
            target_tags=tags.TargetTags(required=True),
            classifier_tags=tags.ClassifierTags(multi_class=self._multinomial),
            input_tags=tags.InputTags(sparse=True),
        )

    # -- fitting --------------------------------------------------------------------
    def validate_params(self):
        """Check the constructor parameters (``fit`` calls this first).

        Raises
        ------
        InvalidParameterError
            A ``ValueError`` whose ``param`` names the offending parameter.
        """
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if not _is_real(value) or not np.isfinite(value) or value < 0:
                raise InvalidParameterError(name, f"{name} must be >= 0, got {value!r}")
        if self.solver not in SOLVER_NAMES:
            raise InvalidParameterError(
                "solver", f"solver must be one of {', '.join(SOLVER_NAMES)}, got {self.solver!r}"
            )
        if self.solver in SMOOTH_ONLY_SOLVERS and self.l1 > 0:
            others = [name for name in SOLVERS if name not in SMOOTH_ONLY_SOLVERS]
            raise InvalidParameterError(
                "solver",
                f"solver={self.solver!r} cannot handle an L1 penalty (l1={self.l1}); "
                f"use one of {', '.join(others)}",
            )
        if not _is_real(self.lr) or not np.isfinite(self.lr) or self.lr <= 0:
            raise InvalidParameterError("lr", f"lr must be > 0, got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidParameterError(
                "lr_schedule",
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}",
            )
        if not _is_real(self.decay) or not np.isfinite(self.decay) or self.decay < 0:
            raise InvalidParameterError("decay", f"decay must be >= 0, got {self.decay!r}")
        if self.lr_schedule == "exponential" and not 0 < self.decay <= 1:
            raise InvalidParameterError(
                "decay",
                f"decay must be in (0, 1] for lr_schedule='exponential', got {self.decay!r}",
            )
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise InvalidParameterError(
                "momentum", f"momentum must be in [0, 1), got {self.momentum!r}"
            )
        for name in ("batch_size", "max_iter", "patience"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise InvalidParameterError(name, f"{name} must be an integer >= 1, got {value!r}")
        if not _is_real(self.tol) or not self.tol >= 0:
            raise InvalidParameterError("tol", f"tol must be >= 0, got {self.tol!r}")
        if self.precondition not in PRECONDITIONERS:
            raise InvalidParameterError(
                "precondition",
                f"precondition must be one of {', '.join(PRECONDITIONERS)}, "
                f"got {self.precondition!r}",
            )
        for name in ("early_stopping", "fit_intercept", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(
                    name, f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        if not (
            self.class_weight is None
            or self.class_weight == "balanced"
            or isinstance(self.class_weight, dict)
        ):
            raise InvalidParameterError(
                "class_weight",
                "class_weight must be None, 'balanced' or a dict "
                f"{{label: weight}}, got {self.class_weight!r}",
            )
        if not (
            self.random_state is None
            or isinstance(self.random_state, np.random.Generator)
            or (_is_int(self.random_state) and self.random_state >= 0)
        ):
            raise InvalidParameterError(
                "random_state",
                "random_state must be None, an integer >= 0 or a "
                f"numpy.random.Generator, got {self.random_state!r}",
            )
        if not _is_int(self.verbose) or self.verbose < 0:
            raise InvalidParameterError(
                "verbose", f"verbose must be an integer >= 0, got {self.verbose!r}"
            )

    def _check_classes(self, classes):
        if classes.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 "
                f"classes; got 1 class: {classes.tolist()}"
            )
        if not self._multinomial and classes.size > 2:
            raise ValueError(
                "Only binary classification is supported. The type of the "
                f"target is multiclass ({classes.size} classes); use "
                "SoftmaxRegression for more than 2 classes."
            )

    def _class_weights(self, classes, y_index, sample_weight):
        """Weight of each class, shape (n_classes,)."""
        if self.class_weight is None:
            return np.ones(classes.size)
        if self.class_weight == "balanced":
            # scikit-learn's definition: n_samples / (n_classes * class count),
            # counting with the sample weights.
            sw = np.ones(y_index.size) if sample_weight is None else sample_weight
            totals = np.bincount(y_index, weights=sw, minlength=classes.size)
            with np.errstate(divide="ignore"):
                weights = sw.sum() / (classes.size * totals)
            return np.where(totals > 0, weights, 0.0)
        weights = np.ones(classes.size)
        for label, weight in self.class_weight.items():
            where = np.flatnonzero(classes == label)
            if where.size == 0:
                raise ValueError(
                    f"class_weight has a weight for label {label!r}, "
                    f"which is not among the classes {classes.tolist()}"
                )
            if not _is_real(weight) or not np.isfinite(weight) or weight < 0:
                raise ValueError(f"class_weight[{label!r}] must be >= 0, got {weight!r}")
            weights[where[0]] = weight
        return weights

    def _sample_scale(self, classes, y_index, sample_weight):
        """The s_i of the objective (mean 1), or None when all are equal."""
        if sample_weight is None and self.class_weight is None:
            return None
        s = self._class_weights(classes, y_index, sample_weight)[y_index]
        if sample_weight is not None:
            s = s * sample_weight
        weighted = np.bincount(y_index, weights=s, minlength=classes.size)
        if np.count_nonzero(weighted) < 2:
            raise ValueError(
                "sample_weight and class_weight leave samples of only 1 "
                f"class with non-zero weight (class "
                f"{classes[np.flatnonzero(weighted)].tolist()}); a classifier "
                "needs at least 2 classes"
            )
        return s * (s.size / s.sum())

    def _split_validation(self, X, y_index, sample_weight, eval_set, classes, rng):
        """Training part and validation data (X_val, y_val index) or None."""
        if eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
                raise ValueError(
                    f"eval_set must be a pair (X_val, y_val), got {type(eval_set).__name__}"
                )
            X_val = check_features(
                eval_set[0], n_features=X.shape[1], estimator=type(self).__name__
            )
            y_val = np.asarray(eval_set[1]).reshape(-1)
            if y_val.shape[0] != X_val.shape[0]:
                raise ValueError(
                    f"eval_set: X_val has {X_val.shape[0]} samples but "
                    f"y_val has {y_val.shape[0]} labels"
                )
            unknown = np.setdiff1d(y_val, classes)
            if unknown.size:
                raise ValueError(
                    f"eval_set: y_val has labels not seen in training: {unknown.tolist()[:10]}"
                )
            return X, y_index, sample_weight, (X_val, np.searchsorted(classes, y_val))
        if not self.early_stopping:
            return X, y_index, sample_weight, None
        train, val = stratified_holdout(y_index, VALIDATION_FRACTION, rng)
        if val.size == 0 or np.unique(y_index[train]).size < 2:
            raise ValueError(
                "early_stopping=True without eval_set holds out 10% of each "
                f"class for validation, but {y_index.size} samples are too "
                "few; pass eval_set=(X_val, y_val)"
            )
        sw_train = None if sample_weight is None else sample_weight[train]
        return X[train], y_index[train], sw_train, (X[val], y_index[val])

    def fit(self, X, y, sample_weight=None, eval_set=None, coef_init=None, intercept_init=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            Dense float32/float64 arrays are used as they are (float32 stays float32);
            sparse inputs are used as CSR, never densified.
        y : array-like of shape (n_samples,)
            Class labels of any sortable type.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights (multiplied by the class weights, then normalized to
            mean 1).
        eval_set : (X_val, y_val), optional
            Validation data: its loss and accuracy are recorded in ``history_`` each
            epoch, and it drives early stopping. Without it, ``early_stopping=True``
            holds out a stratified 10% of the training data, drawn with
            ``random_state``.
        coef_init : ndarray of shape (K, n_features), optional
            Weights to start from (as scikit-learn's ``SGDClassifier.fit``), for
            example a regularization path's fit at this penalty; they take precedence
            over ``warm_start``. ``K`` is 1 for a binary model, else the number of
            classes.
        intercept_init : ndarray of shape (K,), optional
            Intercepts to start from (zeros when ``coef_init`` is given without them).

        Returns
        -------
        self
        """
        self.validate_params()
        X = check_features(X, estimator=type(self).__name__)
        classes, y_index = check_labels(y, X.shape[0])
        self._check_classes(classes)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        rng = (
            self.random_state
            if isinstance(self.random_state, np.random.Generator)
            else np.random.default_rng(self.random_state)
        )
        X_train, y_train, sw_train, validation = self._split_validation(
            X, y_index, sample_weight, eval_set, classes, rng
        )
        solver = resolve_solver(self.solver, self.l1, sparse_like(X_train))
        check_streamable(X_train, solver)
        if solver == "minibatch" and self.batch_size > X_train.shape[0]:
            raise InvalidParameterError(
                "batch_size",
                f"batch_size={self.batch_size} is larger than the number of "
                f"training samples ({X_train.shape[0]})",
            )
        scale = self._sample_scale(classes, y_train, sw_train)

        loss = make_loss(classes.size, self._multinomial, self.fit_intercept)
        penalty = ElasticNet(l1=float(self.l1), l2=float(self.l2))
        Y = one_hot(y_train, loss.n_outputs)
        monitor = None
        if validation is not None:
            class_weights = (
                None
                if self.class_weight is None
                else self._class_weights(classes, y_train, sw_train)
            )
            monitor = _ValidationMonitor(
                loss,
                *validation,
                class_weights,
                self.early_stopping,
                self.patience,
                X_train,
                y_train,
            )
        kwargs = {
            "max_iter": self.max_iter,
            "tol": float(self.tol),
            "callback": monitor,
            "verbose": self.verbose,
        }
        kwargs.update(self._step_options(solver))
        if solver in STOCHASTIC_SOLVERS:
            kwargs["rng"] = rng
        if solver == "minibatch":
            kwargs["batch_size"] = self.batch_size
        if coef_init is not None:
            kwargs["coef0"], kwargs["intercept0"] = self._initial_weights(
                loss, X_train.shape[1], coef_init, intercept_init
            )
        else:
            kwargs["coef0"], kwargs["intercept0"] = self._warm_start_weights(loss, X_train.shape[1])
        if monitor is not None:
            # The monitor's training accuracy reads the scores of the solver's last pass.
            loss.keep_scores_of(X_train)
        try:
            coef, intercept, n_iter, history, convergence = SOLVERS[solver](
                loss, penalty, X_train, Y, scale, **kwargs
            )
        finally:
            loss.keep_scores_of(None)

        self.best_epoch_ = None
        if monitor is not None:
            history.update(monitor.history)
            if self.early_stopping and monitor.best[1] is not None:
                _, self.best_epoch_, coef, intercept = monitor.best
        if convergence.reason == "callback":  # the monitor is the only callback
            convergence = dataclasses.replace(convergence, reason="early_stopping")
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept if self.fit_intercept else np.zeros(coef.shape[0])
        self.n_iter_ = n_iter
        self.convergence_ = convergence
        self.n_features_in_ = X.shape[1]
        self.history_ = history
        self.solver_ = solver
        self._loss = loss
        log.info(
            "%s: %s stopped after %d epoch(s), objective %.6g",
            type(self).__name__,
            solver,
            n_iter,
            history["loss"][-1]
            if history["loss"]
            else objective(loss, penalty, coef, intercept, X_train, Y, scale),
        )
        return self

    def _step_options(self, solver) -> dict:
        """The step-size keywords of ``solver`` from this estimator's parameters (empty
        for the solvers that choose their own steps); :meth:`fit` and the
        regularization path pass them alike."""
        if solver == "lbfgs" and self.precondition != "none":
            return {"precondition": self.precondition}
        if solver not in LR_SOLVERS:
            return {}
        return {
            "lr": float(self.lr),
            "lr_schedule": self.lr_schedule,
            "decay": float(self.decay),
            "momentum": float(self.momentum),
        }

    @staticmethod
    def _initial_weights(loss, n_features, coef_init, intercept_init):
        """``(coef0, intercept0)`` from the caller's ``coef_init``/``intercept_init``."""
        shape = (loss.n_outputs, n_features)
        coef = np.asarray(coef_init, dtype=np.float64)
        if coef.shape != shape:
            raise InvalidParameterError(
                "coef_init", f"coef_init has shape {coef.shape}, expected {shape}"
            )
        intercept = None
        if intercept_init is not None and loss.fit_intercept:
            intercept = np.asarray(intercept_init, dtype=np.float64)
            if intercept.shape != shape[:1]:
                raise InvalidParameterError(
                    "intercept_init",
                    f"intercept_init has shape {intercept.shape}, expected {shape[:1]}",
                )
        if not (
            np.all(np.isfinite(coef)) and (intercept is None or np.all(np.isfinite(intercept)))
        ):
            raise InvalidParameterError("coef_init", "coef_init and intercept_init must be finite")
        return coef, intercept

    def _warm_start_weights(self, loss, n_features):
        """``(coef0, intercept0)``: the previous fit's weights with ``warm_start`` when
        their shapes fit this one (scikit-learn's rule), else ``(None, None)`` (zeros)."""
        coef = getattr(self, "coef_", None)
        if not self.warm_start or coef is None or coef.shape != (loss.n_outputs, n_features):
            return None, None
        return coef, self.intercept_ if self.fit_intercept else None

    # -- prediction -----------------------------------------------------------------
    def _raw(self, X):
        if not hasattr(self, "coef_"):
            raise not_fitted_error(
                f"This {type(self).__name__} instance is not fitted "
                "yet; call fit with training data first"
            )
        X = check_features(X, n_features=self.n_features_in_, estimator=type(self).__name__)
        return self._loss.raw_prediction(self.coef_, self.intercept_, X)

    def decision_function(self, X):
        """Scores :math:`W x + b`.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            With 2 classes (LogisticRegression, or SoftmaxRegression fitted on 2
            classes) the log-odds of ``classes_[1]``, shape (n_samples,), as
            scikit-learn's classifiers return it; else one score per class.
        """
        raw = self._raw(X)
        if raw.shape[1] == 1:
            return raw[:, 0]
        if raw.shape[1] == 2:
            return raw[:, 1] - raw[:, 0]
        return raw

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns as ``classes_``."""
        raw = self._raw(X)
        proba = self._loss.predict_proba(raw)
        return proba if self._multinomial else np.hstack([1.0 - proba, proba])

    def predict(self, X):
        """Most probable class label of each sample, shape (n_samples,)."""
        raw = self._raw(X)
        index = raw.argmax(axis=1) if self._multinomial else (raw[:, 0] > 0).astype(int)
        return self.classes_[index]

    def score(self, X, y, sample_weight=None):
        """Accuracy (weighted by ``sample_weight`` when given) on ``(X, y)``."""
        correct = self.predict(X) == np.asarray(y).reshape(-1)
        return float(np.average(correct, weights=sample_weight))


def _same(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


class LogisticRegression(_LinearClassifier):
    r"""Binary logistic regression with L1, L2 or ElasticNet penalty, in numpy.

    Minimizes :math:`J(W, b)` of :mod:`logreg.linear.estimators` with the sigmoid:
    :math:`P(y = \text{classes\_}[1] \mid x) = \sigma(w^\top x + b)`.

    Parameters
    ----------
    l1, l2 : float, default=0.0
        Penalty strengths :math:`\lambda_1, \lambda_2 \ge 0`; both > 0 is ElasticNet.
        ``l2 = 1 / (C * n_samples)`` matches scikit-learn's ``C`` (unit weights).
    solver : {"auto", "lbfgs", "newton_cg", "newton_cd", "fista", "gd", "sgd", \
"minibatch"}, default="auto"
        "auto" is, when ``l1 > 0``, "newton_cd" (proximal Newton with coordinate
        descent on working sets); when ``l1 == 0``, "newton_cg" (truncated Newton) for
        sparse X and "lbfgs" for dense X. All reach the optimum; "fista" (accelerated
        proximal gradient) is a slower reference.
    lr : float, default=0.1
        Learning rate of "gd", "sgd" and "minibatch".
    lr_schedule : {"constant", "invscaling", "exponential"}, default="constant"
        Learning rate in epoch t (from 0): ``lr``, ``lr / (1 + decay * t)`` or
        ``lr * decay ** t``.
    decay : float, default=0.9
        Decay of the schedule (must be in (0, 1] for "exponential").
    momentum : float in [0, 1), default=0.0
        Heavy-ball momentum of the learning-rate solvers.
    batch_size : int, default=32
        Samples per step of "minibatch"; must not exceed the number of samples.
    max_iter : int, default=100
        Maximum number of epochs (iterations for "lbfgs" and "fista", Newton
        iterations for "newton_cd" and "newton_cg").
    tol : float, default=1e-4
        Relative tolerance: "lbfgs", "newton_cg", "fista" and "gd" stop when the
        largest entry of the (proximal) gradient is below ``tol`` times the largest
        gradient entry at zero weights (where a cold fit starts);
        "newton_cd" when the largest optimality (KKT) violation of any weight or
        intercept is below ``tol`` times the largest gradient entry at zero weights;
        "sgd" and "minibatch" when the objective changed by less than ``tol``
        relative over an epoch. The deterministic solvers also stop when rounding
        stops their progress (a few iterations that lower neither the objective
        beyond its rounding error nor the measure; a failed line search; a step
        that changes no weight): a ``tol`` below what the arithmetic resolves ends
        the fit within a few iterations instead of at ``max_iter``. Below 1e-6 (1e-4
        for "lbfgs"), the products with a sparse float32 ``X`` run on a float64 copy
        (float32 resolves a relative gradient of about 1e-7 at best); a dense
        float32 ``X`` is not copied. A :class:`ConvergenceWarning` says when a
        solver stopped without meeting ``tol``, with the measure it reached and why;
        ``convergence_`` records it.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for ``patience`` epochs and
        restore the weights of the best epoch. Uses ``eval_set`` of :meth:`fit`, or
        else a stratified 10% of the training data drawn with ``random_state``.
    patience : int, default=5
    class_weight : None, "balanced" or dict {label: weight}, default=None
        "balanced" weights class c by ``n_samples / (n_classes * n_c)``.
    fit_intercept : bool, default=True
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the only random generator (shuffling, validation split).
    verbose : int, default=0
        ``>= 1`` shows a progress bar over epochs (on a terminal).
    warm_start : bool, default=False
        Start :meth:`fit` from the previous fit's ``coef_`` and ``intercept_`` when
        their shapes match (same classes and features), else from zero, as in
        scikit-learn. Fitting a sequence of penalties this way is much faster; see
        :func:`logreg.linear.path.regularization_path`.
    precondition : {"none", "covariance"}, default="none"
        "covariance": "lbfgs" iterates on the weights transformed by the Cholesky
        factor of the features' (ridged) second moment, estimated on up to 4,000 rows
        of a dense ``X`` (:mod:`logreg.linear.solvers.preconditioner`): the same
        optimum in far fewer iterations when features are correlated, for ``d^3 / 3``
        flops and ``8 d^2`` bytes once per ``X``. Other solvers ignore it.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
        Epochs (iterations) run.
    convergence_ : Convergence
        How the solver stopped, a frozen dataclass (``convergence_.as_dict()`` gives
        plain values for JSON): ``converged`` (bool, ``criterion <= tol``),
        ``criterion`` (float, the stopping measure reached, on the scale of ``tol``),
        ``tol`` (float), ``reason`` (``"tol"``, ``"max_iter"``,
        ``"stagnation: <why>"``, ``"line search failed"`` or ``"early_stopping"``)
        and ``measure`` (str, what ``criterion`` measures, e.g.
        ``"relative gradient"``).
    n_features_in_ : int
    history_ : dict of lists, one entry per epoch
        "loss" (the penalized training objective J), and with validation data
        "train_accuracy", "val_loss" (mean cross-entropy, weighted by ``class_weight``
        but not by sample weights) and "val_accuracy".
    best_epoch_ : int or None
        With early stopping, the epoch (from 1) whose weights were kept.
    solver_ : str
        The solver used (resolves "auto").
    """


class SoftmaxRegression(_LinearClassifier):
    r"""K-class softmax (multinomial logistic) regression, L1/L2/ElasticNet, in numpy.

    Minimizes :math:`J(W, b)` of :mod:`logreg.linear.estimators` with
    :math:`P(y = \text{classes\_}[k] \mid x) = \mathrm{softmax}(W x + b)_k`. Takes
    the parameters of :class:`LogisticRegression`; ``coef_`` has shape
    ``(n_classes, n_features)``, ``intercept_`` ``(n_classes,)``, and
    :meth:`decision_function` returns ``(n_samples, n_classes)`` scores (for
    ``K = 2`` the log-odds of ``classes_[1]``, shape ``(n_samples,)``, the
    scikit-learn convention). Any ``K >= 2`` is accepted.
    """

    _multinomial = True
