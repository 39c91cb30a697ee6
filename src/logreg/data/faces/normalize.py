"""Features and normalization of face images, fitted on the training split only.

The same :func:`normalize` runs in the data stage and in a served model, so raw
pixels of a new face are transformed exactly as the training images were.

Features: a spec of registered kinds (:mod:`logreg.data.faces.feature_kinds`; ``pixels``,
``hog``, ``kmeans``, ``hog+kmeans``, ...), fitted here on the training images (the k-means
dictionary) and computed from the raw grey levels; the normalization then applies to the
concatenated columns.
Normalization methods, for a feature vector :math:`x` (raw pixels: :math:`x \\in [0, 255]^{2304}`):

* ``scale``: :math:`x / 255` (the course's default);
* ``per_pixel``: :math:`(x_j - \\mu_j) / \\sigma_j`, with the mean and standard deviation
  of feature :math:`j` (a pixel, or a HOG bin) over the training images
  (:math:`\\sigma_j = 0` is replaced by 1);
* ``per_image``: :math:`(x - \\bar x) / s(x)`, each image's own mean and standard
  deviation (:math:`s = 0`, a constant image, is replaced by 1); nothing is fitted.

Which method applies to which features is :func:`logreg.data.faces.features.normalization_for`:
every kind but ``pixels`` is standardized (``per_pixel``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from logreg.data.faces.feature_kinds import Concatenation, build
from logreg.data.faces.features import check_features
from logreg.data.faces.fer_format import N_PIXELS
from logreg.errors import DataError

METHODS = ("scale", "per_pixel", "per_image")
__all__ = [
    "METHODS",
    "NormalizationStats",
    "fit_and_normalize",
    "fit_normalization",
    "load_stats",
    "normalize",
    "save_stats",
]
# Rows per pass: bounds the float64 temporaries to ~40 MB whatever the dataset size.
_CHUNK_ROWS = 2048
# Standard deviations below this (in grey levels) mean "constant"; dividing by them
# would blow rounding noise up into huge values.
_MIN_STD = 1e-6


@dataclass(frozen=True)
class NormalizationStats:
    """What :func:`normalize` needs: the fitted features, the method and the mean and std.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    mean, std : ndarray of float32, shape (n_features,)
        Subtracted and divided per feature (``scale``: 0 and 255). Empty for
        ``per_image``, whose statistics are each image's own.
    transform : Concatenation
        The fitted feature kinds (:mod:`logreg.data.faces.feature_kinds`).
    """

    method: str
    mean: np.ndarray
    std: np.ndarray
    transform: Concatenation

    @property
    def features(self) -> str:
        """The feature spec, e.g. ``hog+kmeans``."""
        return self.transform.spec

    @property
    def n_features(self) -> int:
        return self.transform.n_features

    def part(self, prefix: str):
        """The fitted kind saved under ``prefix`` (its name), e.g. ``stats.part("kmeans")``."""
        return self.transform.part(prefix)


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
    train_pixels, method: str, features: str | Concatenation = "pixels", **params
) -> NormalizationStats:
    """Fit the feature kinds and the statistics of ``method`` on the training images.

    Parameters
    ----------
    train_pixels : array_like, shape (n_train, 2304)
        Raw grey levels 0..255 of the training split (uint8 or float).
    method : {"scale", "per_pixel", "per_image"}
        It must be one every kind of ``features`` allows (all but pixels: ``per_pixel``).
    features : str or Concatenation
        A spec of registered kinds (``"hog+kmeans"``), or unfitted kinds.
    **params
        Options per kind name (``kmeans=KmeansParams(...)``); missing or None: defaults.

    Returns
    -------
    NormalizationStats
    """
    return _fit(train_pixels, method, features, params)[0]


def fit_and_normalize(
    train_pixels,
    method: str,
    features: str | Concatenation = "pixels",
    n_threads: int | None = None,
    **params,
) -> tuple[NormalizationStats, np.ndarray]:
    """:func:`fit_normalization`, then :func:`normalize` of the same training images.

    What the data stage does; the features of the training images are computed once
    (they are most of the cost), not once for the statistics and again to normalize.
    ``n_threads``: threads of the kinds that encode in parallel (default: all CPUs).

    Returns
    -------
    (NormalizationStats, ndarray of float32, shape (n_train, n_features))
    """
    stats, train_features = _fit(train_pixels, method, features, params, n_threads)
    return stats, _apply(train_features, stats)


def _fit(
    train_pixels, method: str, features, params: dict, n_threads: int | None = None
) -> tuple[NormalizationStats, np.ndarray]:
    """The statistics, and the raw (unnormalized) features of the training images."""
    if method not in METHODS:
        raise ValueError(f"normalization must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(features, Concatenation):
        if params:
            raise ValueError("options given beside fitted-to-be kinds: set them on the kinds")
        transform = features
    else:
        transform = build(check_features(features), params)
    allowed = tuple(m for m in METHODS if all(m in p.normalizations for p in transform.parts))
    if method not in allowed:
        raise ValueError(
            f"{transform.spec} features take the {' or '.join(allowed)} normalization "
            f"(each feature standardized), not {method!r}"
        )
    train_pixels = _check_pixels(train_pixels)
    transform.fit(train_pixels, n_threads)
    train_features = transform.transform(train_pixels, n_threads)
    n = transform.n_features
    if method == "scale":
        mean, std = np.zeros(n, np.float32), np.full(n, 255.0, np.float32)
    elif method == "per_image":
        mean, std = np.zeros(0, np.float32), np.zeros(0, np.float32)
    else:
        mean, std = _mean_std(train_features)
    return NormalizationStats(method, mean, std, transform), train_features


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


def normalize(pixels, stats: NormalizationStats, n_threads: int | None = None) -> np.ndarray:
    """Features of raw images, normalized with fitted statistics.

    Parameters
    ----------
    pixels : array_like, shape (n, 2304) or (2304,)
        Raw grey levels 0..255, uint8 or float.
    stats : NormalizationStats
        From :func:`fit_normalization` on the training split (or :func:`load_stats`).
    n_threads : int, optional
        Threads of the kinds that encode in parallel; default: the CPUs this process may use.

    Returns
    -------
    ndarray of float32, shape (n, stats.n_features)
    """
    pixels = _check_pixels(pixels)
    return _apply(stats.transform.transform(pixels, n_threads), stats)


def _apply(features: np.ndarray, stats: NormalizationStats) -> np.ndarray:
    """The normalization of ``stats`` applied to raw float32 features, in place."""
    for i in range(0, features.shape[0], _CHUNK_ROWS):
        target = features[i : i + _CHUNK_ROWS]
        if stats.method == "per_image":
            chunk = target.astype(np.float64)
            mean = chunk.mean(axis=1, keepdims=True)
            std = np.sqrt(((chunk - mean) ** 2).mean(axis=1, keepdims=True))
            std[std < _MIN_STD] = 1.0
            target[...] = (chunk - mean) / std
        else:
            # float32 arithmetic in place: no float64 temporaries.
            np.subtract(target, stats.mean, out=target)
            np.divide(target, stats.std, out=target)
    return features


def save_stats(path: str | os.PathLike, stats: NormalizationStats) -> None:
    """Write ``stats`` as ``.npz``: arrays ``method``, ``mean``, ``std``, ``features`` (the
    spec) and what each kind saves under its prefix (HOG: ``hog`` = [cell_size,
    orientations, block_size]; k-means: ``kmeans_params`` (JSON text),
    ``kmeans_patch_mean``, ``kmeans_whitening``, ``kmeans_centroids``); no pickles."""
    with open(path, "wb") as fh:
        np.savez(
            fh,
            method=np.array(stats.method),
            mean=stats.mean,
            std=stats.std,
            features=np.array(stats.features),
            **stats.transform.save(),
        )


def load_stats(path: str | os.PathLike) -> NormalizationStats:
    """Read statistics written by :func:`save_stats`.

    Raises
    ------
    DataError
        If the file is missing, not such an archive, or holds an unknown method or kind.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            method = str(archive["method"])
            mean, std = archive["mean"].astype(np.float32), archive["std"].astype(np.float32)
            # Files written before HOG existed hold pixel statistics.
            features = str(archive["features"]) if "features" in archive else "pixels"
            transform = Concatenation.load(features, archive)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"not a normalization file ({exc})", where=path) from None
    stats = NormalizationStats(method, mean, std, transform)
    expected = 0 if method == "per_image" else stats.n_features
    if method not in METHODS or mean.shape != (expected,) or std.shape != (expected,):
        raise DataError(f"unknown method {method!r} or statistics of the wrong shape", where=path)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise DataError("non-finite mean or non-positive std", where=path)
    return stats
