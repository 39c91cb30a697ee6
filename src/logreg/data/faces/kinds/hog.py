"""The ``hog`` kind: histograms of oriented gradients (:mod:`logreg.data.faces.hog`)."""

from __future__ import annotations

import numpy as np

from logreg.data.faces.feature_kinds import FeatureKind
from logreg.data.faces.hog import HogParams, glyph_image, hog_features


class Hog(FeatureKind):
    name = "hog"
    Params = HogParams
    description = "histograms of oriented gradients (Dalal & Triggs)"

    def transform(self, pixels, out=None, n_threads=None):
        features = hog_features(pixels, self.params)
        if out is None:
            return features
        out[...] = features
        return out

    def save(self, prefix: str) -> dict[str, np.ndarray]:
        # [cell_size, orientations, block_size]: the layout files have always held.
        p = self.params
        return {prefix: np.array([p.cell_size, p.orientations, p.block_size])}

    @classmethod
    def load(cls, archive, prefix):
        return cls(HogParams(*(int(v) for v in archive[prefix])))

    def weight_pictures(self, weights):
        return (
            np.stack([glyph_image(row, self.params) for row in weights]),
            "HOG weights: one line per cell along the edge orientation it weighs",
        )
