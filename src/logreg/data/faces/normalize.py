"""Features and normalization of face images, fitted on the training split only.

The same :func:`normalize` runs in the data stage and in a served model, so raw
pixels of a new face are transformed exactly as the training images were.

Features (:mod:`logreg.data.faces.features`): ``pixels`` (the 2,304 grey levels), ``hog``
(histograms of oriented gradients, :mod:`logreg.data.faces.hog`), ``kmeans`` (pooled
k-means patch features, :mod:`logreg.data.faces.kmeans`, whose dictionary is learned here
from the training images) or ``hog+kmeans``, all computed from the raw grey levels.
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

import json
import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from logreg.data.faces.features import FEATURES, feature_parts, fixed_normalization
from logreg.data.faces.fer_format import N_PIXELS
from logreg.data.faces.hog import HogParams, hog_features
from logreg.data.faces.kmeans import KmeansDictionary, KmeansParams, fit_kmeans, kmeans_features
from logreg.errors import DataError

log = logging.getLogger(__name__)

METHODS = ("scale", "per_pixel", "per_image")
__all__ = [
    "FEATURES",
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
        The HOG layout when the features include ``hog``.
    kmeans : KmeansDictionary or None
        The learned dictionary when the features include ``kmeans``.
    """

    method: str
    mean: np.ndarray
    std: np.ndarray
    features: str = "pixels"
    hog: HogParams | None = None
    kmeans: KmeansDictionary | None = None

    @property
    def n_features(self) -> int:
        sizes = {"pixels": N_PIXELS}
        if self.hog is not None:
            sizes["hog"] = self.hog.n_features
        if self.kmeans is not None:
            sizes["kmeans"] = self.kmeans.params.n_features
        return sum(sizes[part] for part in feature_parts(self.features))


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
    train_pixels,
    method: str,
    features: str = "pixels",
    hog: HogParams | None = None,
    kmeans: KmeansParams | None = None,
) -> NormalizationStats:
    """Compute the statistics of ``method`` from the training images.

    Parameters
    ----------
    train_pixels : array_like, shape (n_train, 2304)
        Raw grey levels 0..255 of the training split (uint8 or float).
    method : {"scale", "per_pixel", "per_image"}
    features : {"pixels", "hog", "kmeans", "hog+kmeans"}
    hog : HogParams, optional
        The HOG layout (features with ``hog`` only); default :class:`HogParams()`.
    kmeans : KmeansParams, optional
        The k-means layout and fit (features with ``kmeans`` only); default
        :class:`KmeansParams()`.

    Returns
    -------
    NormalizationStats
    """
    return _fit(train_pixels, method, features, hog, kmeans)[0]


def fit_and_normalize(
    train_pixels,
    method: str,
    features: str = "pixels",
    hog: HogParams | None = None,
    kmeans: KmeansParams | None = None,
    n_threads: int | None = None,
) -> tuple[NormalizationStats, np.ndarray]:
    """:func:`fit_normalization`, then :func:`normalize` of the same training images.

    What the data stage does; HOG and k-means features of the training images are
    computed once (they are most of the cost), not once for the statistics and again to
    normalize. ``n_threads``: threads of the k-means encoding (default: all CPUs).

    Returns
    -------
    (NormalizationStats, ndarray of float32, shape (n_train, n_features))
    """
    stats, train_features = _fit(train_pixels, method, features, hog, kmeans, n_threads)
    if train_features is None:
        return stats, normalize(train_pixels, stats)
    return stats, _standardize(train_features, stats)


def _fit(
    train_pixels,
    method: str,
    features: str,
    hog: HogParams | None,
    kmeans: KmeansParams | None,
    n_threads: int | None = None,
) -> tuple[NormalizationStats, np.ndarray | None]:
    """The statistics, and the raw features of the training images (all but pixels)."""
    if method not in METHODS:
        raise ValueError(f"normalization must be one of {', '.join(METHODS)}, got {method!r}")
    parts = feature_parts(features)
    if hog is not None and "hog" not in parts:
        raise ValueError(f"HOG parameters given, but features is {features!r}")
    if kmeans is not None and "kmeans" not in parts:
        raise ValueError(f"k-means parameters given, but features is {features!r}")
    required = fixed_normalization(features)
    if required is not None:
        if method != required:
            raise ValueError(
                f"{features} features take the {required} normalization (each feature "
                f"standardized), not {method!r}"
            )
        train_pixels = _check_pixels(train_pixels)
        hog = (hog or HogParams()) if "hog" in parts else None
        dictionary = None
        if "kmeans" in parts:
            started = time.perf_counter()
            dictionary = fit_kmeans(train_pixels, kmeans or KmeansParams())
            log.info(
                "k-means dictionary (%d centroids) fitted in %.1f s",
                dictionary.params.n_centroids,
                time.perf_counter() - started,
            )
        stats = NormalizationStats(method, np.zeros(0), np.zeros(0), features, hog, dictionary)
        train_features = _raw_features(train_pixels, stats, n_threads)
        mean, std = _mean_std(train_features)
        return NormalizationStats(method, mean, std, features, hog, dictionary), train_features
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


def normalize(pixels, stats: NormalizationStats, n_threads: int | None = None) -> np.ndarray:
    """Normalize raw images with fitted statistics.

    Parameters
    ----------
    pixels : array_like, shape (n, 2304) or (2304,)
        Raw grey levels 0..255, uint8 or float.
    stats : NormalizationStats
        From :func:`fit_normalization` on the training split (or :func:`load_stats`).
    n_threads : int, optional
        Threads of the k-means encoding; default: the CPUs this process may use.

    Returns
    -------
    ndarray of float32, shape (n, stats.n_features)
    """
    pixels = _check_pixels(pixels)
    if stats.features != "pixels":
        return _standardize(_raw_features(pixels, stats, n_threads), stats)
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


def _raw_features(
    pixels: np.ndarray, stats: NormalizationStats, n_threads: int | None = None
) -> np.ndarray:
    """The unnormalized feature blocks of ``stats.features``, side by side (float32)."""
    out = np.empty((pixels.shape[0], stats.n_features), np.float32)
    column = 0
    for part in feature_parts(stats.features):
        started = time.perf_counter()
        if part == "hog":
            width = stats.hog.n_features
            out[:, column : column + width] = hog_features(pixels, stats.hog)
        else:
            width = stats.kmeans.params.n_features
            kmeans_features(
                pixels, stats.kmeans, out=out[:, column : column + width], n_threads=n_threads
            )
        if pixels.shape[0] > 1000:  # the data stage, not a served prediction
            log.info(
                "%s features of %d images in %.1f s",
                part,
                pixels.shape[0],
                time.perf_counter() - started,
            )
        column += width
    return out


def _standardize(features: np.ndarray, stats: NormalizationStats) -> np.ndarray:
    """(features - mean) / std in place (float32 features)."""
    features -= stats.mean
    features /= stats.std
    return features


def save_stats(path: str | os.PathLike, stats: NormalizationStats) -> None:
    """Write ``stats`` as ``.npz`` (arrays ``method``, ``mean``, ``std``, ``features``; for
    HOG, ``hog`` = [cell_size, orientations, block_size]; for k-means, ``kmeans_params``
    (JSON text), ``kmeans_patch_mean``, ``kmeans_whitening`` and ``kmeans_centroids``;
    no pickles)."""
    extra = {}
    if stats.hog is not None:
        extra["hog"] = np.array([stats.hog.cell_size, stats.hog.orientations, stats.hog.block_size])
    if stats.kmeans is not None:
        extra.update(
            kmeans_params=np.array(json.dumps(stats.kmeans.params.to_dict())),
            kmeans_patch_mean=stats.kmeans.patch_mean,
            kmeans_whitening=stats.kmeans.whitening,
            kmeans_centroids=stats.kmeans.centroids,
        )
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
            if features not in FEATURES:
                raise KeyError(f"unknown features {features!r}")
            parts = feature_parts(features)
            hog = HogParams(*(int(v) for v in archive["hog"])) if "hog" in parts else None
            dictionary = _load_dictionary(archive) if "kmeans" in parts else None
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"not a normalization file ({exc})", where=path) from None
    stats = NormalizationStats(method, mean, std, features, hog, dictionary)
    expected = 0 if method == "per_image" else stats.n_features
    if method not in METHODS or mean.shape != (expected,) or std.shape != (expected,):
        raise DataError(f"unknown method {method!r} or statistics of the wrong shape", where=path)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise DataError("non-finite mean or non-positive std", where=path)
    return stats


def _load_dictionary(archive) -> KmeansDictionary:
    """The k-means dictionary of a statistics archive, its shapes checked (ValueError)."""
    params = KmeansParams(**json.loads(str(archive["kmeans_params"])))
    d = params.patch_size**2
    dictionary = KmeansDictionary(
        params,
        archive["kmeans_patch_mean"].astype(np.float32),
        archive["kmeans_whitening"].astype(np.float32),
        archive["kmeans_centroids"].astype(np.float32),
    )
    shapes = (
        dictionary.patch_mean.shape,
        dictionary.whitening.shape,
        dictionary.centroids.shape,
    )
    if shapes != ((d,), (d, d), (params.n_centroids, d)):
        raise ValueError(f"k-means arrays of shapes {shapes} do not fit {params}")
    arrays = (dictionary.patch_mean, dictionary.whitening, dictionary.centroids)
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("non-finite k-means arrays")
    return dictionary
