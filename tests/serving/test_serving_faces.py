"""The served face model (MLflow pyfunc) transforms raw pixels exactly as the data stage did."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from logreg.data.faces import load_stats, normalize
from logreg.data.faces.demo import write_demo_csv
from logreg.data.faces.feature_kinds import registry
from logreg.data.faces.kmeans import KmeansParams
from logreg.data.faces.prepare import load_fer2013, prepare_faces
from logreg.errors import DataError
from logreg.serving.pyfunc_model import LinearClassifierModel, model_inputs

# A small dictionary keeps the fixture fast; the encoding is the same code at any size.
SMALL_KMEANS = KmeansParams(n_centroids=40, n_patches=4000, n_iter=3, seed=7)


# Every registered kind alone, combinations (composition, not a kind of its own), and
# k-means with mirror averaging.
SPECS = [*registry(), "hog+kmeans", "pixels+hog", "kmeans/flip=average"]


@pytest.fixture(scope="module", params=SPECS)
def served(request, tmp_path_factory):
    """A prepared demo dataset of one feature spec (and k-means option) and a served model."""
    features, _, option = request.param.partition("/")
    folder = tmp_path_factory.mktemp(features.replace("+", "_"))
    write_demo_csv(folder / "fer.csv", 210, seed=3)
    options = {}
    if "kmeans" in features.split("+"):
        options["kmeans"] = SMALL_KMEANS if not option else replace(SMALL_KMEANS, flip="average")
    normalization = "per_pixel"
    dataset = prepare_faces(
        folder / "fer.csv",
        folder / "prepared",
        features=features,
        normalization=normalization,
        seed=0,
        **options,
    )
    rng = np.random.default_rng(4)
    coef = rng.normal(size=(7, dataset.X["train"].shape[1]))
    intercept = rng.normal(size=7)
    np.savez(
        folder / "model.npz",
        coef=coef,
        intercept=intercept,
        class_names=np.array(dataset.meta["class_names"]),
        threshold=np.nan,
    )
    artifacts, _ = model_inputs("faces", str(folder / "prepared"), None)
    artifacts["model"] = str(folder / "model.npz")
    context = type("Context", (), {"artifacts": artifacts})()
    model = LinearClassifierModel()
    model.load_context(context)
    return model, context, folder, coef, intercept


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (n, 2304)).astype(np.uint8)


def test_pixel_strings_and_arrays_give_the_data_stage_probabilities(served):
    model, context, folder, coef, intercept = served
    images = _images(3)
    strings = [" ".join(map(str, image)) for image in images]
    arrays = [image.reshape(48, 48).astype(float) for image in images]
    by_string = model.predict(context, pd.DataFrame({"pixels": strings}))
    by_array = model.predict(context, pd.DataFrame({"pixels": arrays}))
    stats = load_stats(folder / "prepared" / "normalization.npz")
    raw = normalize(images, stats) @ coef.T + intercept
    expected = np.exp(raw - raw.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    columns = [c for c in by_string.columns if c.startswith("proba_")]
    np.testing.assert_allclose(by_string[columns].to_numpy(), expected, rtol=1e-5)
    pd.testing.assert_frame_equal(by_string, by_array)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((48, 48), np.nan), "expected grey levels in 0..255, got values outside it"),
        (np.full((48, 48), 256.0), "expected grey levels in 0..255, got values outside it"),
        (np.zeros((47, 48)), "expected 2304 values (48x48), got 2256"),
        ("1 2 3", "expected 2304 values (48x48), got 3"),
    ],
)
def test_a_bad_image_is_an_error_naming_its_row(served, bad, message):
    model, context, *_ = served
    good = _images(1)[0].reshape(48, 48)
    frame = pd.DataFrame({"pixels": [good, bad]})
    with pytest.raises(DataError, match="^" + re.escape(f"input row 1: pixels: {message}")):
        model.predict(context, frame)


def test_served_features_are_the_prepared_rows_bit_for_bit(served):
    # Raw pixel strings of the test split, one request per image and all at once: the
    # served model's features are the data stage's rows, bit for bit.
    model, _, folder, *_ = served
    raw = load_fer2013(folder / "fer.csv").pixels["test"]
    prepared = np.load(folder / "prepared" / "X_test.npy")
    strings = [" ".join(map(str, image)) for image in raw]
    np.testing.assert_array_equal(model._features(pd.DataFrame({"pixels": strings})), prepared)
    for i in (0, len(strings) - 1):
        one = model._features(pd.DataFrame({"pixels": strings[i : i + 1]}))
        np.testing.assert_array_equal(one, prepared[i : i + 1])
