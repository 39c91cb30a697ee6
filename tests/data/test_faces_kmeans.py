"""k-means patch features of 48x48 faces: k-means, whitening, encoding, pooling, layout,
determinism, train-only statistics, saving, pictures and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.faces.kmeans import (
    KmeansDictionary,
    KmeansParams,
    _normalize_patches,
    centroid_mosaic,
    fit_kmeans,
    kmeans_features,
    lloyd_kmeans,
    patch_mirror,
    region_image,
    region_weights,
    zca_whitening,
)
from logreg.data.faces.normalize import fit_normalization, load_stats, normalize, save_stats

SMALL = KmeansParams(n_centroids=24, pool_grid=2, n_patches=3000, n_iter=5, seed=1)
FLIPPED = KmeansParams(
    n_centroids=24, pool_grid=3, n_patches=3000, n_iter=5, seed=1, flip="average"
)


def faces(n, seed):
    """Grey levels with structure: a smooth random field plus pixel noise, uint8."""
    rng = np.random.default_rng(seed)
    smooth = np.kron(rng.uniform(0, 200, (n, 6, 6)), np.ones((8, 8)))
    return (smooth + rng.uniform(0, 55, (n, 48, 48))).astype(np.uint8).reshape(n, 2304)


@pytest.fixture(scope="module")
def dictionary():
    return fit_kmeans(faces(60, seed=0), SMALL)


def test_lloyd_finds_three_known_centroids():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.repeat(centres, 50, axis=0) + rng.normal(0, 0.3, (150, 2))
    points -= np.repeat(points.reshape(3, 50, 2).mean(axis=1) - centres, 50, axis=0)  # exact means
    found = lloyd_kmeans(points, 3, n_iter=10, rng=np.random.default_rng(5))
    order = np.lexsort(found.T[::-1])
    np.testing.assert_allclose(found[order], centres[np.lexsort(centres.T[::-1])], atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_an_empty_cluster_is_reseeded_with_the_farthest_point(seed):
    # Eight identical points and two far ones: whenever two initial centroids are copies of
    # the same point, one cluster is empty after the first assignment and must move.
    points = np.array([[0.0, 0.0]] * 8 + [[10.0, 0.0], [20.0, 0.0]])
    found = lloyd_kmeans(points, 3, n_iter=4, rng=np.random.default_rng(seed))
    assert sorted(found[:, 0]) == [0.0, 10.0, 20.0]


def test_zca_whitening_of_a_hand_checked_case():
    # Variance 4 along (1, 1)/sqrt2 and 1 along (1, -1)/sqrt2: W = V diag(1/2, 1) V^T.
    u, v = np.array([1.0, 1.0]) / np.sqrt(2), np.array([1.0, -1.0]) / np.sqrt(2)
    points = np.array([a * u + b * v for a in (2, -2) for b in (1, -1)]) + 3.0
    mean, whitening = zca_whitening(points, epsilon=0.0)
    np.testing.assert_allclose(mean, [3.0, 3.0])
    np.testing.assert_allclose(whitening, [[0.75, -0.25], [-0.25, 0.75]], atol=1e-12)
    white = (points - mean) @ whitening
    np.testing.assert_allclose(white.T @ white / 4, np.eye(2), atol=1e-12)
    # epsilon = 1: the eigenvalues 4 and 1 become 5 and 2.
    _, whitening = zca_whitening(points, epsilon=1.0)
    expected = np.outer(u, u) / np.sqrt(5) + np.outer(v, v) / np.sqrt(2)
    np.testing.assert_allclose(whitening, expected, atol=1e-12)


def test_patch_normalization_of_a_hand_checked_patch():
    patch = np.array([[0.0] * 18 + [20.0] * 18, [7.0] * 36])  # mean 10, var 100; constant
    out = _normalize_patches(patch.copy())
    np.testing.assert_allclose(out[0], (patch[0] - 10) / np.sqrt(110))
    np.testing.assert_array_equal(out[1], 0.0)


@pytest.mark.parametrize(
    "params, n_positions, n_features",
    [
        (KmeansParams(), 43, 7200),
        (KmeansParams(patch_size=8, stride=2, pool_grid=3, n_centroids=20), 21, 180),
        (KmeansParams(patch_size=48, pool_grid=1, n_centroids=5), 1, 5),
        (KmeansParams(flip="average"), 43, 3600),
        (KmeansParams(flip="average", n_centroids=1600, pool_grid=4), 43, 12800),
    ],
)
def test_layout(params, n_positions, n_features):
    assert (params.n_positions, params.n_features) == (n_positions, n_features)


def test_encoding_shape_dtype_and_a_float64_reference(dictionary):
    images = faces(3, seed=1)
    out = kmeans_features(images, dictionary)
    assert out.shape == (3, 4 * 24) and out.dtype == np.float32 and (out >= 0).all()
    # The definition, step by step in float64: patches, normalize, whiten, distances,
    # triangle, sums over the quadrants of the 43x43 position map (22 + 21 rows), sqrt.
    p = SMALL.patch_size
    for image, row in zip(images.reshape(-1, 48, 48).astype(np.float64), out):
        windows = np.lib.stride_tricks.sliding_window_view(image, (p, p)).reshape(43, 43, -1)
        x = windows - windows.mean(axis=-1, keepdims=True)
        x /= np.sqrt(x.var(axis=-1, keepdims=True) + 10)
        w = (x - dictionary.patch_mean) @ dictionary.whitening.astype(np.float64)
        z = np.linalg.norm(w[:, :, None, :] - dictionary.centroids[None, None], axis=-1)
        f = np.maximum(0, z.mean(axis=-1, keepdims=True) - z)
        halves = (slice(0, 22), slice(22, 43))
        pooled = np.array([f[r, c].sum(axis=(0, 1)) for r in halves for c in halves])
        np.testing.assert_allclose(row, np.sqrt(pooled).ravel(), rtol=2e-3, atol=2e-3)


@pytest.fixture(scope="module")
def flipped():
    return fit_kmeans(faces(60, seed=0), FLIPPED)


@pytest.mark.parametrize("which", ["dictionary", "flipped"])
def test_one_image_alone_or_among_many_gives_the_same_bits(which, request):
    dictionary = request.getfixturevalue(which)
    images = faces(150, seed=2)  # more than one task: both threads work
    batch = kmeans_features(images, dictionary, n_threads=2)
    np.testing.assert_array_equal(kmeans_features(images, dictionary, n_threads=1), batch)
    for i in (0, 77, 149):
        np.testing.assert_array_equal(
            kmeans_features(images[i : i + 1], dictionary), batch[i : i + 1]
        )


def test_same_seed_same_features_bit_for_bit_and_another_seed_differs():
    train, images = faces(40, seed=3), faces(5, seed=4)
    first = kmeans_features(images, fit_kmeans(train, SMALL))
    again = kmeans_features(images, fit_kmeans(train, SMALL))
    np.testing.assert_array_equal(first, again)
    other = KmeansParams(**{**SMALL.to_dict(), "seed": 2})
    assert not np.array_equal(kmeans_features(images, fit_kmeans(train, other)), first)


def test_statistics_come_from_the_training_images_only():
    train, test = faces(40, seed=5), faces(10, seed=6)
    stats = fit_normalization(train, "per_pixel", features="kmeans", kmeans=SMALL)
    assert stats.part("kmeans").params == SMALL and stats.n_features == 96
    # The dictionary is the one fitted on train alone; mean and std are those of train.
    reference = fit_kmeans(train, SMALL)
    np.testing.assert_array_equal(stats.part("kmeans").dictionary.centroids, reference.centroids)
    raw_train = kmeans_features(train, reference).astype(np.float64)
    np.testing.assert_allclose(stats.mean, raw_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, raw_train.std(axis=0), rtol=1e-4)
    out = normalize(test, stats)
    expected = (kmeans_features(test, reference) - stats.mean) / stats.std
    np.testing.assert_array_equal(out, expected)


def test_hog_plus_kmeans_is_hog_then_kmeans_standardized(tmp_path):
    train, test = faces(30, seed=7), faces(4, seed=8)
    both = fit_normalization(train, "per_pixel", features="hog+kmeans", kmeans=SMALL)
    hog = fit_normalization(train, "per_pixel", features="hog")
    kmeans = fit_normalization(train, "per_pixel", features="kmeans", kmeans=SMALL)
    assert both.n_features == 1764 + 96
    out = normalize(test, both)
    np.testing.assert_array_equal(out[:, :1764], normalize(test, hog))
    np.testing.assert_array_equal(out[:, 1764:], normalize(test, kmeans))
    save_stats(tmp_path / "normalization.npz", both)
    loaded = load_stats(tmp_path / "normalization.npz")
    assert loaded.features == "hog+kmeans" and loaded.part("kmeans").params == SMALL
    np.testing.assert_array_equal(normalize(test, loaded), out)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"patch_size": 49}, "patch_size 49 is larger than the 48x48 image"),
        ({"patch_size": 0}, "patch_size must be a positive integer, got 0"),
        ({"pool_grid": 44}, "pool_grid 44 is finer than the 43 patch positions"),
        ({"stride": 2.5}, "stride must be a positive integer, got 2.5"),
        ({"whitening_epsilon": 0.0}, "whitening_epsilon must be a positive number, got 0.0"),
        ({"n_centroids": 1}, "n_centroids must be at least 2, got 1"),
        ({"n_patches": 100}, r"n_patches \(100\) must be at least n_centroids \(800\)"),
        ({"flip": "both"}, "flip must be one of none, average, got 'both'"),
        (
            {"flip": "average", "n_centroids": 801},
            "n_centroids 801 is odd: flip average needs mirror-image pairs",
        ),
        (
            {"flip": "average", "stride": 4},
            "stride 4 does not divide 48 - patch_size 6: flip average needs",
        ),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        KmeansParams(**kwargs)


def test_kmeans_parameters_need_kmeans_features():
    with pytest.raises(ValueError, match="options for kmeans given, but features is 'hog'"):
        fit_normalization(faces(5, seed=0), "per_pixel", features="hog", kmeans=SMALL)
    with pytest.raises(ValueError, match="kmeans features take the per_pixel normalization"):
        fit_normalization(faces(5, seed=0), "scale", features="kmeans")


def test_region_weights_and_their_picture():
    params = KmeansParams(n_centroids=3, pool_grid=2)
    weights = np.concatenate([np.full(3, v) for v in (1.0, 2.0, -1.0, 0.0)])  # TL TR BL BR
    np.testing.assert_array_equal(region_weights(weights, params), [[1.0, 2.0], [-1.0, 0.0]])
    image = region_image(weights, params)
    assert image.shape == (48, 48)
    assert image[0, 0] == 1.0 and image[0, 47] == 2.0 and image[47, 0] == -1.0
    assert image[47, 47] == 0.0
    with pytest.raises(ValueError, match="expected 12 k-means weights"):
        region_weights(np.zeros(5), params)


def test_centroid_mosaic_shows_every_centroid(dictionary):
    mosaic = centroid_mosaic(dictionary, scale=2, gap=1)
    # 24 centroids: 5 columns, 5 rows of 6*2-pixel tiles with a 1-pixel gap.
    assert mosaic.dtype == np.uint8 and mosaic.shape == (5 * 13 + 1, 5 * 13 + 1)
    tile = mosaic[1:13, 1:13]
    assert tile.min() == 0 and tile.max() == 255  # each tile is stretched to its own range


def test_a_constant_dictionary_array_would_not_load(tmp_path, dictionary):
    stats = fit_normalization(faces(20, seed=9), "per_pixel", features="kmeans", kmeans=SMALL)
    save_stats(tmp_path / "ok.npz", stats)
    with np.load(tmp_path / "ok.npz") as archive:
        arrays = dict(archive)
    arrays["kmeans_centroids"] = arrays["kmeans_centroids"][:5]
    np.savez(tmp_path / "bad.npz", **arrays)
    from logreg.errors import DataError

    with pytest.raises(DataError, match="not a normalization file.*do not fit"):
        load_stats(tmp_path / "bad.npz")
    assert isinstance(dictionary, KmeansDictionary)


def test_flip_average_dictionary_comes_in_mirror_image_pairs(flipped):
    mirror = patch_mirror(6)
    assert mirror[:6].tolist() == [5, 4, 3, 2, 1, 0]
    half = FLIPPED.n_centroids // 2
    np.testing.assert_array_equal(flipped.centroids[half:], flipped.centroids[:half][:, mirror])
    np.testing.assert_array_equal(flipped.whitening, flipped.whitening[mirror][:, mirror])
    np.testing.assert_array_equal(flipped.patch_mean, flipped.patch_mean[mirror])


def test_flip_average_gives_a_face_and_its_mirror_image_the_same_features(flipped, dictionary):
    images = faces(6, seed=11)
    mirrored = images.reshape(-1, 48, 48)[:, :, ::-1].reshape(6, -1)
    features = kmeans_features(images, flipped)
    assert features.shape == (6, 9 * 12) and features.max() > 1.0
    # Equal up to float32 rounding (the whitening and distances are summed in another order).
    np.testing.assert_allclose(kmeans_features(mirrored, flipped), features, atol=2e-4)
    # Without it, the mirror image is another input.
    plain = kmeans_features(images, dictionary)
    assert np.abs(kmeans_features(mirrored, dictionary) - plain).max() > 0.5


def test_flip_average_is_the_mean_of_paired_regions_and_centroids(flipped):
    # The definition: (f(r, c, k) + f(r, g-1-c, k + K/2)) / 2 of the unflipped encoding
    # of the same dictionary, pooled over the symmetric regions 14 + 15 + 14.
    images = faces(3, seed=12)
    unpaired = KmeansDictionary(
        KmeansParams(**{**FLIPPED.to_dict(), "flip": "none", "pool_grid": 43}),
        flipped.patch_mean,
        flipped.whitening,
        flipped.centroids,
    )
    per_position = kmeans_features(images, unpaired).reshape(3, 43, 43, 24) ** 2
    bounds = np.cumsum([0, 14, 15, 14])
    pooled = np.sqrt(
        [
            [
                [
                    p[bounds[r] : bounds[r + 1], bounds[c] : bounds[c + 1]].sum((0, 1))
                    for c in range(3)
                ]
                for r in range(3)
            ]
            for p in per_position
        ]
    )
    expected = (pooled[..., :12] + pooled[:, :, ::-1, 12:]) / 2
    np.testing.assert_allclose(
        kmeans_features(images, flipped), expected.reshape(3, -1), rtol=1e-4, atol=1e-4
    )


def test_flip_average_survives_save_and_load(tmp_path):
    train, test = faces(30, seed=13), faces(4, seed=14)
    stats = fit_normalization(train, "per_pixel", features="kmeans", kmeans=FLIPPED)
    save_stats(tmp_path / "stats.npz", stats)
    loaded = load_stats(tmp_path / "stats.npz")
    assert loaded.transform.part("kmeans").params == FLIPPED
    np.testing.assert_array_equal(normalize(test, loaded), normalize(test, stats))
