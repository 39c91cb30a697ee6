"""Features and normalization of face images, fitted on the training split only.

The same :func:`normalize` runs in the data stage and in a served model, so raw
pixels of a new face are transformed exactly as the training images were.

Features: ``pixels`` (the 2,304 grey levels) or ``hog`` (histograms of oriented
gradients, :mod:`logreg.data.faces.hog`, computed from the raw grey levels). Normalization
methods, for a feature vector :math:`x` (raw pixels: :math:`x \\in [0, 255]^{2304}`):

* ``scale``: :math:`x / 255` (the course's default);
* ``per_pixel``: :math:`(x_j - \\mu_j) / \\sigma_j`, with the mean and standard deviation
  of feature :math:`j` (a pixel, or a HOG bin) over the training images
  (:math:`\\sigma_j = 0` is replaced by 1);
* ``per_image``: :math:`(x - \\bar x) / s(x)`, each image's own mean and standard
  deviation (:math:`s = 0`, a constant image, is replaced by 1); nothing is fitted.

HOG features are already normalized for contrast block by block; of the three methods
only ``per_pixel`` (standardize each feature) applies to them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from logreg.data.faces.fer_format import N_PIXELS
from logreg.data.faces.hog import HogParams, hog_features
from logreg.errors import DataError

METHODS = ("scale", "per_pixel", "per_image")
FEATURES = ("pixels", "hog")
# Rows per pass: bounds the float64 temporaries to ~40 MB whatever the dataset size.
_CHUNK_ROWS = 2048
# Standard deviations below this (in grey levels) mean "constant"; dividing by them
# would blow rounding noise up into huge values.
_MIN_STD = 1e-6


@dataclass(frozen=True)
class NormalizationStats:
    """What :func:`normalize` needs: the features, the method and the mean and std.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    mean, std : ndarray of float32, shape (n_features,)
        Subtracted and divided per feature (``scale``: 0 and 255). Empty for
        ``per_image``, whose statistics are each image's own.
    features : str
        One of :data:`FEATURES`.
    hog : HogParams or None
        The HOG layout when ``features == "hog"``.
    """

    method: str
    mean: np.ndarray
    std: np.ndarray
    features: str = "pixels"
    hog: HogParams | None = None

    @property
    def n_features(self) -> int:
        return self.hog.n_features if self.features == "hog" else N_PIXELS


def _check_pixels(pixels) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim == 1:
        pixels = pixels[np.newaxis, :]
    if pixels.ndim != 2 or pixels.shape[1] != N_PIXELS:
        raise ValueError(f"expected pixels of shape (n, {N_PIXELS}), got {pixels.shape}")
    if not (np.issubdtype(pixels.dtype, np.integer) or np.issubdtype(pixels.dtype, np.floating)):
        raise ValueError(f"expected integer or float pixels, got dtype {pixels.dtype}")
    return pixels


def fit_normalization(
    train_pixels, method: str, features: str = "pixels", hog: HogParams | None = None
) -> NormalizationStats:
    """Compute the statistics of ``method`` from the training images.

    Parameters
    ----------
    train_pixels : array_like, shape (n_train, 2304)
        Raw grey levels 0..255 of the training split (uint8 or float).
    method : {"scale", "per_pixel", "per_image"}
    features : {"pixels", "hog"}
    hog : HogParams, optional
        The HOG layout (``features="hog"`` only); default :class:`HogParams()`.

    Returns
    -------
    NormalizationStats
    """
    return _fit(train_pixels, method, features, hog)[0]


def fit_and_normalize(
    train_pixels, method: str, features: str = "pixels", hog: HogParams | None = None
) -> tuple[NormalizationStats, np.ndarray]:
    """:func:`fit_normalization`, then :func:`normalize` of the same training images.

    What the data stage does; HOG features of the training images are computed once
    (they are most of the cost), not once for the statistics and again to normalize.

    Returns
    -------
    (NormalizationStats, ndarray of float32, shape (n_train, n_features))
    """
    stats, train_features = _fit(train_pixels, method, features, hog)
    if train_features is None:
        return stats, normalize(train_pixels, stats)
    return stats, _standardize(train_features, stats)


def _fit(
    train_pixels, method: str, features: str, hog: HogParams | None
) -> tuple[NormalizationStats, np.ndarray | None]:
    """The statistics, and the raw HOG features of the training images (HOG only)."""
    if method not in METHODS:
        raise ValueError(f"normalization must be one of {', '.join(METHODS)}, got {method!r}")
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
    if features == "hog":
        if method != "per_pixel":
            raise ValueError(
                f"HOG features take the per_pixel normalization (each feature "
                f"standardized), not {method!r}"
            )
        hog = hog or HogParams()
        train_features = hog_features(_check_pixels(train_pixels), hog)
        mean, std = _mean_std(train_features)
        return NormalizationStats(method, mean, std, features, hog), train_features
    if hog is not None:
        raise ValueError("HOG parameters given, but features is 'pixels'")
    if method == "scale":
        return NormalizationStats(
            method, np.zeros(N_PIXELS, np.float32), np.full(N_PIXELS, 255.0, np.float32)
        ), None
    if method == "per_image":
        return NormalizationStats(method, np.zeros(0, np.float32), np.zeros(0, np.float32)), None
    mean, std = _mean_std(_check_pixels(train_pixels))
    return NormalizationStats(method, mean, std), None


def _mean_std(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std (a std of zero becomes 1), as float32."""
    n = features.shape[0]
    if n == 0:
        raise ValueError("cannot fit per_pixel normalization on an empty training split")
    # Two passes in float64 (mean, then squared deviations): exact enough for any n.
    total = np.zeros(features.shape[1])
    for i in range(0, n, _CHUNK_ROWS):
        total += features[i : i + _CHUNK_ROWS].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(features.shape[1])
    for i in range(0, n, _CHUNK_ROWS):
        squares += ((features[i : i + _CHUNK_ROWS] - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / n)
    std[std < _MIN_STD] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def normalize(pixels, stats: NormalizationStats) -> np.ndarray:
    """Normalize raw images with fitted statistics.

    Parameters
    ----------
    pixels : array_like, shape (n, 2304) or (2304,)
        Raw grey levels 0..255, uint8 or float.
    stats : NormalizationStats
        From :func:`fit_normalization` on the training split (or :func:`load_stats`).

    Returns
    -------
    ndarray of float32, shape (n, stats.n_features)
    """
    pixels = _check_pixels(pixels)
    if stats.features == "hog":
        return _standardize(hog_features(pixels, stats.hog), stats)
    out = np.empty(pixels.shape, dtype=np.float32)
    for i in range(0, pixels.shape[0], _CHUNK_ROWS):
        chunk, target = pixels[i : i + _CHUNK_ROWS], out[i : i + _CHUNK_ROWS]
        if stats.method == "per_image":
            chunk = chunk.astype(np.float64)
            mean = chunk.mean(axis=1, keepdims=True)
            std = np.sqrt(((chunk - mean) ** 2).mean(axis=1, keepdims=True))
            std[std < _MIN_STD] = 1.0
            target[...] = (chunk - mean) / std
        else:
            # float32 arithmetic straight into the output: no float64 temporaries.
            np.subtract(chunk, stats.mean, out=target, dtype=np.float32, casting="unsafe")
            np.divide(target, stats.std, out=target)
    return out


def _standardize(features: np.ndarray, stats: NormalizationStats) -> np.ndarray:
    """(features - mean) / std in place (float32 features)."""
    features -= stats.mean
    features /= stats.std
    return features


def save_stats(path: str | os.PathLike, stats: NormalizationStats) -> None:
    """Write ``stats`` as ``.npz`` (arrays ``method``, ``mean``, ``std``, ``features`` and,
    for HOG, ``hog`` = [cell_size, orientations, block_size]; no pickles)."""
    extra = {}
    if stats.features == "hog":
        extra["hog"] = np.array([stats.hog.cell_size, stats.hog.orientations, stats.hog.block_size])
    with open(path, "wb") as fh:
        np.savez(
            fh,
            method=np.array(stats.method),
            mean=stats.mean,
            std=stats.std,
            features=np.array(stats.features),
            **extra,
        )


def load_stats(path: str | os.PathLike) -> NormalizationStats:
    """Read statistics written by :func:`save_stats`.

    Raises
    ------
    DataError
        If the file is missing, not such an archive, or holds an unknown method.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            method = str(archive["method"])
            mean, std = archive["mean"].astype(np.float32), archive["std"].astype(np.float32)
            # Files written before HOG existed hold pixel statistics.
            features = str(archive["features"]) if "features" in archive else "pixels"
            hog = HogParams(*(int(v) for v in archive["hog"])) if features == "hog" else None
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"not a normalization file ({exc})", where=path) from None
    if features not in FEATURES:
        raise DataError(f"unknown features {features!r}", where=path)
    stats = NormalizationStats(method, mean, std, features, hog)
    expected = 0 if method == "per_image" else stats.n_features
    if method not in METHODS or mean.shape != (expected,) or std.shape != (expected,):
        raise DataError(f"unknown method {method!r} or statistics of the wrong shape", where=path)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise DataError("non-finite mean or non-positive std", where=path)
    return stats
