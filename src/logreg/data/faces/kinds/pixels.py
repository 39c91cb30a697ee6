"""The ``pixels`` kind: the 2,304 grey levels themselves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logreg.data.faces.feature_kinds import FeatureKind
from logreg.data.faces.fer_format import IMAGE_SHAPE, N_PIXELS


@dataclass(frozen=True)
class PixelParams:
    """No options: the normalization (``faces.normalization``) applies to all columns."""

    @property
    def n_features(self) -> int:
        return N_PIXELS


class Pixels(FeatureKind):
    name = "pixels"
    Params = PixelParams
    normalizations = ("scale", "per_pixel", "per_image")
    description = "the 2,304 grey levels"

    def transform(self, pixels, out=None, n_threads=None):
        if out is None:
            out = np.empty((pixels.shape[0], N_PIXELS), np.float32)
        out[...] = pixels  # uint8 -> float32 is exact
        return out

    def save(self, prefix: str) -> dict[str, np.ndarray]:
        return {}  # nothing learned, no options

    @classmethod
    def load(cls, archive, prefix):
        return cls()

    def weight_pictures(self, weights):
        return weights.reshape(weights.shape[0], *IMAGE_SHAPE), None
