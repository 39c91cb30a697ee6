"""Validation of the data handed to the estimators: features, labels, weights.

The checks follow scikit-learn's conventions (the same error types, and messages that
its estimator checks recognize) without importing scikit-learn, which the package does
not need at run time.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import scipy.sparse as sp

from logreg.linear.model_selection import stratified_partition
from logreg.linear.streamed import StreamedCSR


class DataConversionWarning(UserWarning):
    """The input had to be reshaped or converted (e.g. a column-vector ``y``)."""


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit``."""


_BRIDGED: dict[tuple[type, type], type] = {}


def sklearn_compatible(cls: type) -> type:
    """``cls``, or a subclass that is also scikit-learn's class of the same name.

    scikit-learn's tools (its estimator checks, ``except NotFittedError`` in its
    meta-estimators) look for their own exception and warning classes. When the
    caller has imported scikit-learn, we raise or warn with a class deriving from both
    ours and theirs; otherwise scikit-learn is never imported.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    theirs = getattr(sklearn_exceptions, cls.__name__, None)
    if theirs is None:
        return cls
    if (cls, theirs) not in _BRIDGED:
        _BRIDGED[cls, theirs] = type(cls.__name__, (cls, theirs), {})
    return _BRIDGED[cls, theirs]


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError` (scikit-learn's too, when it is loaded)."""
    return sklearn_compatible(NotFittedError)(message)


def _check_finite(values, name: str) -> None:
    # A sum is a cheap first test on large arrays; its overflow only sends us to the
    # exact elementwise test.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return
    if np.isnan(values).any():
        raise ValueError(f"Input {name} contains NaN; remove or impute missing values")
    if not np.isfinite(values).all():
        raise ValueError(f"Input {name} contains infinity or a value too large for {values.dtype}")


def check_features(X, *, n_features: int | None = None, estimator: str = "estimator"):
    """Validate ``X``: 2-D, numeric, finite, non-empty; sparse inputs become CSR.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
    n_features : int or None
        When given (after fitting), the number of features ``X`` must have.
    estimator : str
        Name used in error messages.

    Returns
    -------
    X : ndarray (float32 or float64) or CSR matrix (float32 or float64)
        float32 and float64 inputs are returned without a copy (dense) or with their
        data array shared (CSR from CSR); other dtypes become float64.
    """
    if isinstance(X, StreamedCSR):
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        X.check()  # one pass over the file, the first time only
    elif sp.issparse(X):
        X = X.tocsr()
        if np.iscomplexobj(X.data):
            raise ValueError("Complex data not supported")
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        _check_finite(X.data, "X")
    else:
        X = np.asarray(X)
        if np.iscomplexobj(X):
            raise ValueError("Complex data not supported")
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead (shape {X.shape}). "
                "Reshape your data either using array.reshape(-1, 1) if your data has "
                "a single feature or array.reshape(1, -1) if it contains a single "
                "sample."
            )
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)  # a bad object (e.g. a dict) raises TypeError here
        _check_finite(X, "X")
    n_samples, n_cols = X.shape
    if n_samples < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if n_cols < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if n_features is not None and n_cols != n_features:
        raise ValueError(
            f"X has {n_cols} features, but {estimator} is expecting {n_features} features as input."
        )
    return X


def check_labels(y, n_samples: int):
    """Validate ``y`` and encode it.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of any sortable type (ints, strings, ...). A column vector is
        accepted with a :class:`DataConversionWarning`.
    n_samples : int
        Number of rows of ``X``.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels.
    y_index : ndarray of shape (n_samples,)
        Index of each sample's label in ``classes``.
    """
    if y is None:
        raise ValueError("This classifier requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. "
            "Please change the shape of y to (n_samples,), for example "
            "using ravel().",
            sklearn_compatible(DataConversionWarning),
            stacklevel=3,
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per sample; got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]} labels")
    if np.iscomplexobj(y):
        raise ValueError("Complex data not supported")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity")
        if np.any(y != np.round(y)):
            raise ValueError(
                "Unknown label type: continuous. A classifier needs "
                "discrete class labels; got non-integer float values in y"
            )
    elif y.dtype.kind not in "biuUSO":
        raise ValueError(f"Unknown label type: {y.dtype}")
    try:
        classes, y_index = np.unique(y, return_inverse=True)
    except TypeError as exc:
        raise ValueError(f"Unknown label type: mixed types in y ({exc})") from exc
    return classes, y_index.reshape(-1)


def check_sample_weight(sample_weight, n_samples: int):
    """Validate ``sample_weight``: shape ``(n_samples,)``, finite, >= 0, not all zero.

    Returns
    -------
    ndarray of shape (n_samples,) or None
        float64 copy; None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sample_weight = np.array(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per "
            f"sample; got shape {sample_weight.shape}"
        )
    if not np.isfinite(sample_weight).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if (sample_weight < 0).any():
        raise ValueError(f"sample_weight must be >= 0, got a minimum of {sample_weight.min():g}")
    if not sample_weight.any():
        raise ValueError(
            "Sample weights must contain at least one non-zero number; "
            "all sample_weight values are zero"
        )
    return sample_weight


def stratified_holdout(y_index, fraction: float, rng: np.random.Generator):
    """Split sample indices into a training part and a stratified validation part.

    Each class with at least 2 samples gives ``max(1, round(fraction * n_class))`` of
    them (chosen by ``rng``) to the validation part, so both parts keep every class
    that can be split.

    Returns
    -------
    train_index, val_index : sorted ndarrays of int
    """
    val = stratified_partition(y_index, [fraction], rng) == 0
    return np.flatnonzero(~val), np.flatnonzero(val)
