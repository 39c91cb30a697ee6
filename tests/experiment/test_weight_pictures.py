"""Per-class weight pictures of face models: pixels, HOG, k-means and HOG + k-means."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.faces.kmeans import KmeansParams
from logreg.experiment.evaluation import _weight_pictures

KMEANS = KmeansParams(n_centroids=5, pool_grid=2)


@pytest.mark.parametrize("features, n_hog", [("kmeans", 0), ("hog+kmeans", 1764)])
def test_kmeans_weights_are_painted_over_the_face_regions(features, n_hog):
    # Class 0 weighs the top-left quadrant, class 1 the bottom-right one, against.
    coef = np.zeros((2, n_hog + KMEANS.n_features))
    coef[:, :n_hog] = 99.0  # HOG weights do not leak into the k-means picture
    blocks = coef[:, n_hog:].reshape(2, 2, 2, 5)
    blocks[0, 0, 0] = 1.0
    blocks[1, 1, 1] = -2.0
    meta = {"features": features, "image_shape": [48, 48], "kmeans": KMEANS.to_dict()}
    if n_hog:
        meta["hog"] = {"cell_size": 6, "orientations": 9, "block_size": 2}
    images, caption = _weight_pictures(coef, meta)
    assert images.shape == (2, 48, 48)
    assert images[0, 0, 0] == 1.0 and images[0, 47, 47] == 0.0
    assert images[1, 47, 47] == -2.0 and images[1, 0, 0] == 0.0
    assert caption.startswith("k-means weights: mean over the 5 centroids of each of the 2x2")
    # In a concatenation the caption says whose columns the picture shows.
    assert caption.endswith("(kmeans columns of hog+kmeans)") == (features == "hog+kmeans")


def test_pixel_weights_stay_images():
    images, caption = _weight_pictures(
        np.arange(2 * 2304.0).reshape(2, 2304), {"image_shape": [48, 48]}
    )
    assert images.shape == (2, 48, 48) and caption is None
