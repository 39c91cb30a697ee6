"""Feature specs (``pixels``, ``hog``, ``kmeans``, ``hog+kmeans``, ...) and their normalization.

Read by the data stage, the workflow (``workflow/rules/common.smk``) and the training
config (``dataset.features``); the kinds themselves are in
:mod:`logreg.data.faces.feature_kinds`. A spec is registered kinds joined by ``+``.

Which normalization applies: those every kind of the spec allows. Pixels allow ``scale``,
``per_pixel`` and ``per_image`` (``faces.normalization`` picks); every other kind is
standardized feature by feature with training statistics (``per_pixel``): HOG blocks are
contrast-normalized already and k-means patches before encoding, so only the scale of
each feature is left to fix.
"""

from __future__ import annotations

from logreg.data.faces.feature_kinds import allowed_normalizations, registry, spec_names


def kind_names() -> tuple[str, ...]:
    """The registered kinds (each a spec on its own)."""
    return tuple(registry())


def check_features(features: str) -> str:
    """``features`` itself, or a ValueError listing the registered kinds."""
    spec_names(features)
    return features


def feature_parts(features: str) -> tuple[str, ...]:
    """The kinds of a spec, in column order: ``"hog+kmeans"`` -> (hog, kmeans)."""
    return spec_names(features)


def fixed_normalization(features: str) -> str | None:
    """The normalization ``features`` requires, or None when the configured one applies."""
    allowed = allowed_normalizations(features)
    if not allowed:
        raise ValueError(f"the kinds of {features!r} allow no common normalization")
    return allowed[0] if len(allowed) == 1 else None


def normalization_for(features: str, configured: str) -> str:
    """The normalization the data stage uses for ``features`` given the configured one."""
    return fixed_normalization(features) or configured


def is_parallel(features: str) -> bool:
    """Whether a kind of the spec encodes with several threads (the long jobs)."""
    kinds = registry()
    return any(kinds[name].parallel for name in spec_names(features))
