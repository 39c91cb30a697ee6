"""The face feature kinds, and the one table of which normalization each takes.

Used by the data stage (:mod:`logreg.data.faces.normalize`, the ``prepare`` command), the
workflow (``workflow/rules/faces.smk``) and, through the saved statistics, the served
model: nowhere else says which features imply which normalization.

* ``pixels``: the 2,304 grey levels, normalized as configured (``scale``, ``per_pixel``
  or ``per_image``);
* ``hog``: histograms of oriented gradients (:mod:`logreg.data.faces.hog`);
* ``kmeans``: pooled triangle k-means patch features (:mod:`logreg.data.faces.kmeans`);
* ``hog+kmeans``: both, concatenated in that order.

Every kind but ``pixels`` is standardized feature by feature with training statistics
(``per_pixel``): HOG blocks are contrast-normalized already and k-means patches
before encoding, so only the scale of each feature is left to fix.
"""

from __future__ import annotations

FEATURES = ("pixels", "hog", "kmeans", "hog+kmeans")

# None: the configured normalization applies; otherwise the only one that does.
_NORMALIZATION: dict[str, str | None] = {
    "pixels": None,
    "hog": "per_pixel",
    "kmeans": "per_pixel",
    "hog+kmeans": "per_pixel",
}


def check_features(features: str) -> str:
    """``features`` itself, or a ValueError listing :data:`FEATURES`."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
    return features


def feature_parts(features: str) -> tuple[str, ...]:
    """The blocks of a feature kind, in column order: ``"hog+kmeans"`` -> (hog, kmeans)."""
    return tuple(check_features(features).split("+"))


def fixed_normalization(features: str) -> str | None:
    """The normalization ``features`` requires, or None when any configured one applies."""
    return _NORMALIZATION[check_features(features)]


def normalization_for(features: str, configured: str) -> str:
    """The normalization the data stage uses for ``features`` given the configured one."""
    return fixed_normalization(features) or configured
