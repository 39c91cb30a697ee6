"""The ``kmeans`` kind: pooled triangle k-means patch features (:mod:`logreg.data.faces.kmeans`),
the dictionary learned from the training images."""

from __future__ import annotations

import json
import time

import numpy as np

from logreg.data.faces.feature_kinds import FeatureKind, log
from logreg.data.faces.kmeans import (
    KmeansDictionary,
    KmeansParams,
    fit_kmeans,
    kmeans_features,
    region_image,
    save_mosaic,
)


class Kmeans(FeatureKind):
    name = "kmeans"
    Params = KmeansParams
    parallel = True
    description = "k-means patch features (Coates & Ng), dictionary learned on train"

    def __init__(self, params=None, dictionary: KmeansDictionary | None = None) -> None:
        super().__init__(params)
        self.dictionary = dictionary

    def fit(self, train_pixels, n_threads=None):
        started = time.perf_counter()
        self.dictionary = fit_kmeans(train_pixels, self.params)
        log.info(
            "k-means dictionary (%d centroids) fitted in %.1f s",
            self.params.n_centroids,
            time.perf_counter() - started,
        )
        return self

    def _fitted(self) -> KmeansDictionary:
        if self.dictionary is None:
            raise ValueError("k-means features: fit the dictionary first")
        return self.dictionary

    def transform(self, pixels, out=None, n_threads=None):
        return kmeans_features(pixels, self._fitted(), out=out, n_threads=n_threads)

    def save(self, prefix: str) -> dict[str, np.ndarray]:
        dictionary = self._fitted()
        return {
            f"{prefix}_params": np.array(json.dumps(self.params.to_dict())),
            f"{prefix}_patch_mean": dictionary.patch_mean,
            f"{prefix}_whitening": dictionary.whitening,
            f"{prefix}_centroids": dictionary.centroids,
        }

    @classmethod
    def load(cls, archive, prefix):
        params = KmeansParams(**json.loads(str(archive[f"{prefix}_params"])))
        arrays = [
            archive[f"{prefix}_{key}"].astype(np.float32)
            for key in ("patch_mean", "whitening", "centroids")
        ]
        d = params.patch_size**2
        shapes = tuple(a.shape for a in arrays)
        if shapes != ((d,), (d, d), (params.n_centroids, d)):
            raise ValueError(f"k-means arrays of shapes {shapes} do not fit {params}")
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError("non-finite k-means arrays")
        return cls(params, KmeansDictionary(params, *arrays))

    def write_files(self, folder, prefix):
        save_mosaic(folder / f"{prefix}_centroids.png", self._fitted())
        return [f"{prefix}_centroids.png"]

    @classmethod
    def figure_names(cls, prefix):
        return [f"{prefix}_centroids.png"]

    def weight_pictures(self, weights):
        p = self.params
        return (
            np.stack([region_image(row, p) for row in weights]),
            f"k-means weights: mean over the {p.n_centroids} centroids of each of the "
            f"{p.pool_grid}x{p.pool_grid} face regions",
        )
