"""The face feature kinds: one class each, one registry, concatenation by composition."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from logreg.cli import run_cli
from logreg.data.faces import feature_kinds
from logreg.data.faces.__main__ import _parser, main
from logreg.data.faces.demo import write_demo_csv
from logreg.data.faces.feature_kinds import Concatenation, FeatureKind, build, registry
from logreg.data.faces.kmeans import KmeansParams
from logreg.data.faces.normalize import fit_normalization, load_stats, normalize, save_stats
from logreg.data.faces.prepare import load_fer2013
from logreg.data.prepared import load_prepared
from logreg.experiment.evaluation import _weight_pictures
from logreg.serving.pyfunc_model import LinearClassifierModel, model_inputs

# Small options keep the tests fast; the code is the same at any size.
SMALL = {"kmeans": KmeansParams(n_centroids=12, n_patches=600, n_iter=2, seed=5)}


def _faces(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 2304)).astype(np.uint8)


@pytest.mark.parametrize("name", list(registry()))
def test_each_kind_fits_on_train_transforms_and_survives_save_and_load(name):
    kind = registry()[name]
    train, test = _faces(30, 1), _faces(5, 2)
    fitted = kind(SMALL.get(name)).fit(train)
    features = fitted.transform(test)
    assert features.dtype == np.float32 and features.shape == (5, fitted.n_features)
    # One image alone gives the bits it gets among others (a served model sees one).
    np.testing.assert_array_equal(fitted.transform(test[2:3]), features[2:3])
    # Into a column block of a wider matrix, as in a concatenation.
    wide = np.zeros((5, fitted.n_features + 3), np.float32)
    fitted.transform(test, out=wide[:, 1 : 1 + fitted.n_features])
    np.testing.assert_array_equal(wide[:, 1 : 1 + fitted.n_features], features)
    arrays = fitted.save(name)
    assert all(key.startswith(name) for key in arrays)
    loaded = kind.load(arrays, name)
    assert loaded.params == fitted.params
    np.testing.assert_array_equal(loaded.transform(test), features)


def test_a_concatenation_is_its_parts_side_by_side_and_may_repeat_a_kind(tmp_path):
    # Two k-means scales (6x6 and 4x4 patches) and HOG: no new kind, no new branch.
    train, test = _faces(40, 3), _faces(6, 4)
    small, smaller = SMALL["kmeans"], KmeansParams(patch_size=4, n_centroids=8, n_patches=500)
    kinds = registry()
    both = Concatenation([kinds["kmeans"](small), kinds["kmeans"](smaller), kinds["hog"]()])
    assert both.spec == "kmeans+kmeans+hog" and both.prefixes() == ["kmeans", "kmeans2", "hog"]
    stats = fit_normalization(train, "per_pixel", both)
    alone = [kinds["kmeans"](small).fit(train), kinds["kmeans"](smaller).fit(train)]
    raw = np.hstack(
        [alone[0].transform(test), alone[1].transform(test), kinds["hog"]().transform(test)]
    )
    np.testing.assert_array_equal(both.transform(test), raw)
    save_stats(tmp_path / "normalization.npz", stats)
    loaded = load_stats(tmp_path / "normalization.npz")
    assert loaded.part("kmeans2").params == smaller
    np.testing.assert_array_equal(normalize(test, loaded), normalize(test, stats))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sift", "features must be registered kinds joined by '+'"),
        ("hog+hog", "features name a kind twice: 'hog+hog'"),
        ("hog+", "got 'hog+'"),
    ],
)
def test_a_bad_spec_names_the_registered_kinds(spec, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        build(spec)


def test_normalizations_are_those_every_kind_of_the_spec_allows():
    train = _faces(20, 6)
    fit_normalization(train, "scale", "pixels")
    with pytest.raises(ValueError, match="pixels\\+hog features take the per_pixel normalization"):
        fit_normalization(train, "scale", "pixels+hog")


@dataclass(frozen=True)
class MeanParams:
    """Options of the test-only kind: how many horizontal bands."""

    bands: int = 4

    def __post_init__(self):
        if not 1 <= self.bands <= 48:
            raise ValueError(f"bands must be in 1..48, got {self.bands}")

    @property
    def n_features(self) -> int:
        return self.bands


@pytest.fixture
def band_kind(monkeypatch):
    """A kind defined here, registered only for one test: mean grey level per band."""
    monkeypatch.setattr(feature_kinds, "_REGISTRY", dict(feature_kinds.registry()))

    class BandMeans(FeatureKind):
        name = "bandmeans"
        Params = MeanParams
        description = "mean grey level of horizontal bands (test only)"

        def transform(self, pixels, out=None, n_threads=None):
            images = np.asarray(pixels, np.float32).reshape(-1, 48, 48)
            bands = np.array_split(np.arange(48), self.params.bands)
            values = np.stack([images[:, b].mean(axis=(1, 2)) for b in bands], axis=1)
            if out is None:
                return values
            out[...] = values
            return out

    return BandMeans


def test_a_kind_registered_elsewhere_reaches_the_cli_the_data_stage_the_model(band_kind, tmp_path):
    """Adding a kind is its class: the CLI, prepare, evaluation and serving need no edit."""
    parsed = _parser().parse_args(
        ["prepare", "--input", "x", "--out-dir", "y", "--bandmeans-bands", "3"]
    )
    assert parsed.bandmeans_bands == 3
    write_demo_csv(tmp_path / "fer.csv", 210, seed=8)
    out = tmp_path / "prepared"
    args = ["prepare", "--input", str(tmp_path / "fer.csv"), "--out-dir", str(out)]
    run_cli(main, [*args, "--features", "hog+bandmeans", "--bandmeans-bands", "6"])
    prepared = load_prepared(out)
    assert prepared.meta["features"] == "hog+bandmeans"
    assert prepared.meta["bandmeans"] == {"bands": 6}
    assert prepared.X["test"].shape[1] == 1764 + 6
    with pytest.raises(SystemExit):  # UserError: exit 2, the option named
        run_cli(main, [*args, "--features", "bandmeans", "--bandmeans-bands", "0"])
    # The weight picture comes from the last kind that draws one (HOG here).
    images, caption = _weight_pictures(np.ones((7, 1770)), prepared.meta)
    assert images.shape[0] == 7 and caption.startswith("HOG weights")
    # The served model: raw pixel strings in, the prepared rows out, bit for bit.
    artifacts, _ = model_inputs("faces", str(out), None)
    np.savez(
        tmp_path / "model.npz",
        coef=np.zeros((7, 1770)),
        intercept=np.zeros(7),
        class_names=np.array(prepared.meta["class_names"]),
        threshold=np.nan,
    )
    artifacts["model"] = str(tmp_path / "model.npz")
    model = LinearClassifierModel()
    model.load_context(type("Context", (), {"artifacts": artifacts})())
    raw = load_fer2013(tmp_path / "fer.csv").pixels["test"]
    strings = pd.DataFrame({"pixels": [" ".join(map(str, image)) for image in raw]})
    np.testing.assert_array_equal(model._features(strings), prepared.X["test"])
    saved = json.loads((out / "meta.json").read_text())
    assert saved["bandmeans"] == {"bands": 6}
