"""Pixel and HOG normalizations: statistics from the training split only, float32 output."""

from __future__ import annotations

import re

import numpy as np
import pytest

from logreg.data.faces import fit_normalization, load_stats, normalize, parse_pixel_string
from logreg.data.faces.feature_kinds import registry
from logreg.data.faces.hog import HogParams, hog_features
from logreg.data.faces.normalize import fit_and_normalize, save_stats
from logreg.errors import DataError


@pytest.fixture
def splits():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (300, 2304)).astype(np.uint8)
    train[:, 5] = 77  # a constant pixel: std 0
    # a brighter test split: its own statistics differ from the training ones
    test = np.clip(rng.integers(0, 256, (50, 2304)) + 40, 0, 255).astype(np.uint8)
    return train, test


def test_scale_divides_by_255(splits):
    train, test = splits
    stats = fit_normalization(train, "scale")
    out = normalize(test, stats)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, test.astype(np.float32) / 255)


def test_per_pixel_uses_training_statistics_only(splits):
    train, test = splits
    stats = fit_normalization(train, "per_pixel")
    mean, std = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-6)
    std[5] = 1.0
    np.testing.assert_allclose(stats.std, std, rtol=1e-6)
    out_train, out_test = normalize(train, stats), normalize(test, stats)
    assert out_test.dtype == np.float32
    np.testing.assert_allclose(out_test, (test - mean) / std, rtol=1e-5, atol=1e-5)
    varying = np.arange(2304) != 5
    np.testing.assert_allclose(out_train[:, varying].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out_train[:, varying].std(axis=0), 1, atol=1e-4)
    np.testing.assert_array_equal(out_train[:, 5], 0)  # constant pixel: no division by 0
    # the brighter test split keeps its offset: it was not standardized by its own mean
    assert out_test.mean() > 0.4


def test_per_image_standardizes_each_image_by_itself(splits):
    train, test = splits
    stats = fit_normalization(train, "per_image")
    assert stats.mean.size == 0 and stats.std.size == 0
    images = np.vstack([test, np.full((1, 2304), 9, np.uint8)])
    out = normalize(images, stats)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:-1].mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out[:-1].std(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(out[-1], 0)  # a constant image: no division by 0
    # brightness and contrast do not matter
    np.testing.assert_allclose(normalize(test[:1] * 0.5 + 10, stats), out[:1], atol=1e-5)


def test_unknown_method_and_bad_shape_are_rejected(splits):
    train, _ = splits
    with pytest.raises(
        ValueError, match="normalization must be one of scale, per_pixel, per_image, got 'zscore'"
    ):
        fit_normalization(train, "zscore")
    with pytest.raises(ValueError, match=r"expected pixels of shape \(n, 2304\), got \(3, 48\)"):
        normalize(np.zeros((3, 48)), fit_normalization(train, "scale"))


@pytest.mark.parametrize("method", ["scale", "per_pixel", "per_image"])
def test_saved_statistics_normalize_a_pixel_string_like_the_data_stage(tmp_path, splits, method):
    train, test = splits
    stats = fit_normalization(train, method)
    save_stats(tmp_path / "normalization.npz", stats)
    loaded = load_stats(tmp_path / "normalization.npz")
    assert loaded.method == method
    image = parse_pixel_string(" ".join(map(str, test[3])))
    np.testing.assert_array_equal(normalize(image, loaded), normalize(test, stats)[3:4])


def test_loading_a_bad_statistics_file_is_an_error(tmp_path):
    path = tmp_path / "normalization.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"normalization\.npz: not a normalization file"):
        load_stats(path)
    np.savez(path, method=np.array("per_pixel"), mean=np.zeros(2304), std=np.zeros(2304))
    with pytest.raises(DataError, match="non-positive std"):
        load_stats(path)


@pytest.fixture
def face_splits():
    """Textured train images; test images with a strong vertical edge added, so their HOG
    statistics differ from the training ones."""
    rng = np.random.default_rng(3)

    def textured(n):
        coarse = np.kron(rng.uniform(0, 180, (n, 6, 6)), np.ones((8, 8)))
        return coarse + rng.uniform(0, 40, (n, 48, 48))

    train = textured(200)
    test = textured(40)
    test[:, :, 21:] += 100  # inside cell column 3, not on a coarse-texture border
    return (
        np.clip(train, 0, 255).astype(np.uint8).reshape(-1, 2304),
        np.clip(test, 0, 255).astype(np.uint8).reshape(-1, 2304),
    )


def test_hog_per_pixel_uses_training_statistics_only(face_splits):
    train, test = face_splits
    stats = fit_normalization(train, "per_pixel", features="hog")
    assert stats.features == "hog" and stats.part("hog").params == HogParams()
    assert stats.n_features == 1764 and stats.mean.shape == stats.std.shape == (1764,)
    train_hog = hog_features(train).astype(np.float64)
    mean, std = train_hog.mean(axis=0), train_hog.std(axis=0)
    assert (std > 1e-6).all()
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats.std, std, rtol=1e-5, atol=1e-7)
    out_train, out_test = normalize(train, stats), normalize(test, stats)
    assert out_train.dtype == out_test.dtype == np.float32
    assert out_test.shape == (40, 1764)
    np.testing.assert_allclose(out_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out_train.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(out_test, (hog_features(test) - mean) / std, rtol=1e-4, atol=1e-4)
    # the edge of the test images stays visible: not standardized by their own statistics
    assert np.abs(out_test.mean(axis=0)).max() > 1


def test_hog_constant_feature_is_not_divided_by_zero():
    # constant images: every HOG feature is 0 with std 0 on the training split
    train = np.full((5, 2304), 90, np.uint8)
    stats = fit_normalization(train, "per_pixel", features="hog")
    np.testing.assert_array_equal(stats.std, 1)
    out = normalize(train, stats)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("method", ["scale", "per_image"])
def test_hog_takes_only_the_per_pixel_normalization(face_splits, method):
    train, _ = face_splits
    with pytest.raises(ValueError, match=f"per_pixel.*not '{method}'"):
        fit_normalization(train, method, features="hog")


def test_hog_parameters_without_hog_features_are_rejected(face_splits):
    train, _ = face_splits
    with pytest.raises(ValueError, match="options for hog given, but features is 'pixels'"):
        fit_normalization(train, "per_pixel", hog=HogParams())
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"features must be registered kinds joined by '+' ({', '.join(registry())};"
        ),
    ):
        fit_normalization(train, "per_pixel", features="sift")


@pytest.mark.parametrize("hog", [HogParams(), HogParams(cell_size=8, orientations=6, block_size=3)])
def test_saved_hog_statistics_keep_the_layout_and_normalize_identically(tmp_path, face_splits, hog):
    train, test = face_splits
    stats = fit_normalization(train, "per_pixel", features="hog", hog=hog)
    save_stats(tmp_path / "normalization.npz", stats)
    loaded = load_stats(tmp_path / "normalization.npz")
    assert (
        loaded.features == "hog"
        and loaded.part("hog").params == hog
        and loaded.method == "per_pixel"
    )
    assert loaded.n_features == hog.n_features
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    out = normalize(test, loaded)
    assert out.shape == (40, hog.n_features)
    np.testing.assert_array_equal(out, normalize(test, stats))
    image = parse_pixel_string(" ".join(map(str, test[3])))
    np.testing.assert_array_equal(normalize(image, loaded), out[3:4])


@pytest.mark.parametrize("method", ["per_pixel", "scale"])
def test_statistics_file_without_features_loads_as_pixels(tmp_path, splits, method):
    train, test = splits
    stats = fit_normalization(train, method)
    path = tmp_path / "normalization.npz"
    # as written before HOG existed: method, mean and std only
    np.savez(path, method=np.array(method), mean=stats.mean, std=stats.std)
    loaded = load_stats(path)
    assert loaded.features == "pixels" and [p.name for p in loaded.transform.parts] == ["pixels"]
    assert loaded.n_features == 2304
    np.testing.assert_array_equal(normalize(test, loaded), normalize(test, stats))


def test_hog_statistics_file_with_a_bad_layout_is_an_error(tmp_path):
    path = tmp_path / "normalization.npz"
    np.savez(
        path,
        method=np.array("per_pixel"),
        mean=np.zeros(1764),
        std=np.ones(1764),
        features=np.array("hog"),
        hog=np.array([5, 9, 2]),
    )
    with pytest.raises(DataError, match="not a normalization file"):
        load_stats(path)
    np.savez(
        path,
        method=np.array("per_pixel"),
        mean=np.zeros(2304),
        std=np.ones(2304),
        features=np.array("hog"),
        hog=np.array([6, 9, 2]),
    )
    with pytest.raises(DataError, match="wrong shape"):
        load_stats(path)


@pytest.mark.parametrize(
    "method, features",
    [("scale", "pixels"), ("per_pixel", "pixels"), ("per_image", "pixels"), ("per_pixel", "hog")],
)
def test_fit_and_normalize_is_fit_then_normalize(splits, method, features):
    train = splits[0]
    stats, normalized = fit_and_normalize(train, method, features)
    expected_stats = fit_normalization(train, method, features)
    np.testing.assert_array_equal(stats.mean, expected_stats.mean)
    np.testing.assert_array_equal(stats.std, expected_stats.std)
    assert stats.features == expected_stats.features
    assert [part.params for part in stats.transform.parts] == [
        part.params for part in expected_stats.transform.parts
    ]
    np.testing.assert_array_equal(normalized, normalize(train, expected_stats))
