"""Pixel normalizations: statistics from the training split only, float32 output."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.errors import DataError
from logreg.faces import (fit_normalization, load_stats, normalize, parse_pixel_string)
from logreg.faces.normalize import save_stats


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
    with pytest.raises(ValueError, match="normalization must be one of scale, per_pixel, "
                                         "per_image, got 'zscore'"):
        fit_normalization(train, "zscore")
    with pytest.raises(ValueError, match=r"expected pixels of shape \(n, 2304\), got \(3, 48\)"):
        normalize(np.zeros((3, 48)), fit_normalization(train, "scale"))


@pytest.mark.parametrize("method", ["scale", "per_pixel", "per_image"])
def test_saved_statistics_normalize_a_pixel_string_like_the_data_stage(tmp_path, splits,
                                                                       method):
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
