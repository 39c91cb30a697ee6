"""HOG of 48x48 faces: layout, invariances, orientations, L2-Hys, weight folding, glyphs."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.faces.hog import (
    HogParams,
    _cell_histograms,
    cell_weights,
    glyph_image,
    hog_features,
)


def textured_images(n, seed):
    """Float grey levels with real texture: a smooth random field plus pixel noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 200, (n, 6, 6))
    smooth = np.kron(coarse, np.ones((8, 8)))
    images = smooth + rng.uniform(0, 55, (n, 48, 48))
    return images.reshape(n, 2304)


def single_pixel(row, col, value=10.0):
    image = np.zeros((48, 48))
    image[row, col] = value
    return image.reshape(1, 2304)


def test_default_layout_has_1764_float32_features():
    params = HogParams()
    assert (params.n_cells, params.n_blocks, params.n_features) == (8, 7, 1764)
    out = hog_features(textured_images(3, seed=0).astype(np.uint8))
    assert out.shape == (3, 1764) and out.dtype == np.float32


def test_four_pixel_cells_give_12x12_cells_and_11x11_blocks_of_36():
    params = HogParams(cell_size=4)
    assert (params.n_cells, params.n_blocks, params.n_features) == (12, 11, 4356)
    out = hog_features(textured_images(2, seed=1), params)
    assert out.shape == (2, 4356) and out.dtype == np.float32


def test_results_do_not_depend_on_chunking():
    # 3000 rows span two chunks of 2048: rows (around the chunk boundary and spread over
    # both chunks) must match the image computed alone
    images = textured_images(3000, seed=2).astype(np.float32)
    together = hog_features(images)
    rows = np.r_[0, 1, 2046:2051, 2998, 2999, 7:3000:41]
    alone = np.vstack([hog_features(images[i : i + 1]) for i in rows])
    np.testing.assert_allclose(together[rows], alone, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(together[0], together[2048])


def test_brightness_and_positive_contrast_do_not_change_features():
    images = textured_images(5, seed=3)
    reference = hog_features(images)
    np.testing.assert_allclose(hog_features(images + 37.0), reference, atol=1e-4)
    np.testing.assert_allclose(hog_features(images * 0.5), reference, atol=1e-4)
    np.testing.assert_allclose(hog_features(images * 3.0 - 100.0), reference, atol=1e-4)


def test_constant_image_gives_zero_features():
    out = hog_features(np.full((2, 2304), 128, np.uint8))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, 0)


def test_vertical_edge_votes_equally_for_the_bins_next_to_0_and_180_degrees():
    image = np.zeros((48, 48), np.float32)
    image[:, 24:] = 100  # dark left, bright right: gradient along +x
    hist = _cell_histograms(image[np.newaxis], HogParams())[0]
    # columns 23 and 24 carry the gradient (100 each): cell columns 3 and 4
    for cell_col in (3, 4):
        for cell_row in range(8):
            votes = hist[cell_row, cell_col]
            assert votes[0] == pytest.approx(300) and votes[8] == pytest.approx(300)
            np.testing.assert_array_equal(votes[1:8], 0)
    np.testing.assert_array_equal(hist[:, [0, 1, 2, 5, 6, 7]], 0)


def test_horizontal_edge_votes_for_the_bin_centred_on_90_degrees():
    image = np.zeros((48, 48), np.float32)
    image[24:, :] = 100  # dark top, bright bottom: gradient along +y
    hist = _cell_histograms(image[np.newaxis], HogParams())[0]
    for cell_row in (3, 4):
        for cell_col in range(8):
            votes = hist[cell_row, cell_col]
            assert votes[4] == pytest.approx(600, abs=1e-3)
            np.testing.assert_allclose(np.delete(votes, 4), 0, atol=1e-3)
    np.testing.assert_array_equal(hist[[0, 1, 2, 5, 6, 7]], 0)


def test_a_bright_left_edge_votes_like_a_bright_right_edge():
    # unsigned orientations: the gradient direction modulo 180 degrees
    image = np.zeros((48, 48), np.float32)
    image[:, :24] = 100
    hist = _cell_histograms(image[np.newaxis], HogParams())[0]
    np.testing.assert_allclose(hist[2, 3], [300, 0, 0, 0, 0, 0, 0, 0, 300], atol=1e-3)


def test_every_textured_block_has_unit_norm_and_no_negative_entries():
    params = HogParams()
    out = hog_features(textured_images(4, seed=4), params)
    blocks = out.reshape(4, params.n_blocks**2, -1)
    assert blocks.shape[-1] == params.block_size**2 * params.orientations == 36
    assert (blocks >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=-1), 1, atol=1e-3)


def test_single_bright_pixel_by_hand():
    # 24-pixel cells, 1x1 blocks: 4 blocks (= cells) of 9 bins, blocks in row-major order.
    params = HogParams(cell_size=24, block_size=1)
    assert params.n_features == 36
    # A pixel of 10 at (34, 10), in the bottom-left cell. Its four neighbours get
    # gradients of magnitude 10: (34, 9) and (34, 11) along x (angle 0 and 180 degrees,
    # split 5/5 between bins 0 and 8), (33, 10) and (35, 10) along y (bin 4).
    image = single_pixel(34, 10)
    hist = _cell_histograms(image.reshape(1, 48, 48).astype(np.float32), params)[0]
    np.testing.assert_allclose(hist[1, 0], [10, 0, 0, 0, 20, 0, 0, 0, 10], atol=1e-4)
    np.testing.assert_array_equal(hist[0], 0)
    np.testing.assert_array_equal(hist[1, 1], 0)
    # L2: [10, 20, 10] / sqrt(600) = [0.41, 0.82, 0.41]; clipped at 0.2 all three are
    # equal; renormalized: 1/sqrt(3) each. Without the clip bin 4 would be twice the others.
    out = hog_features(image, params)[0]
    expected = np.zeros(36)
    expected[[18, 22, 26]] = 1 / np.sqrt(3)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_a_pixel_between_two_cells_votes_in_both():
    params = HogParams(cell_size=24, block_size=1)
    # (10, 23) is in the top-left cell (x gradient), (10, 25), (9, 24), (11, 24) in the
    # top-right one
    out = hog_features(single_pixel(10, 24), params)[0]
    expected = np.zeros(36)
    expected[[0, 8]] = 1 / np.sqrt(2)  # [5, 5] -> 0.71 each, clipped, renormalized
    expected[[9, 13, 17]] = 1 / np.sqrt(3)  # [5, 20, 5]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_cells_within_a_block_are_in_column_major_order():
    # one 2x2 block of 24-pixel cells: top-left, bottom-left, top-right, bottom-right
    params = HogParams(cell_size=24, block_size=2)
    assert params.n_features == 36
    for (row, col), part in (((10, 10), 0), ((34, 10), 1), ((10, 34), 2), ((34, 34), 3)):
        out = hog_features(single_pixel(row, col), params)[0]
        expected = np.zeros(36)
        expected[[9 * part, 9 * part + 4, 9 * part + 8]] = 1 / np.sqrt(3)
        np.testing.assert_allclose(out, expected, atol=1e-5, err_msg=f"pixel {(row, col)}")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cell_size": 5}, "cell_size"),
        ({"cell_size": 0}, "cell_size"),
        ({"cell_size": -1}, "cell_size"),
        ({"cell_size": True}, "cell_size"),
        ({"cell_size": 2.0}, "cell_size"),
        ({"orientations": 0}, "orientations"),
        ({"orientations": 9.0}, "orientations"),
        ({"block_size": 0}, "block_size"),
        ({"cell_size": 24, "block_size": 3}, "block_size"),
    ],
)
def test_bad_layouts_are_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        HogParams(**kwargs)


def test_largest_block_fitting_the_image_is_accepted():
    params = HogParams(cell_size=24, block_size=2, orientations=4)
    assert (params.n_blocks, params.n_features) == (1, 16)
    assert HogParams(cell_size=np.int64(8)).n_cells == 6


def test_cell_weights_put_one_block_entry_on_its_cell():
    params = HogParams()
    # block (row 2, col 5), second cell of the block (bottom-left: cell row 3, col 5),
    # orientation 3
    weights = np.zeros(params.n_features)
    weights[((2 * 7 + 5) * 4 + 1) * 9 + 3] = 1.0
    folded = cell_weights(weights, params)
    assert folded.shape == (8, 8, 9)
    assert list(zip(*np.nonzero(folded))) == [(3, 5, 3)]
    assert folded[3, 5, 3] == 1.0


def test_cell_weights_keep_the_total_weight():
    params = HogParams()
    weights = np.random.default_rng(5).normal(size=params.n_features)
    assert cell_weights(weights, params).sum() == pytest.approx(weights.sum())


def test_cell_weights_of_non_overlapping_blocks_are_a_reshape():
    params = HogParams(block_size=1)
    weights = np.random.default_rng(6).normal(size=params.n_features)
    np.testing.assert_array_equal(cell_weights(weights, params), weights.reshape(8, 8, 9))


def test_cell_weights_are_the_transpose_of_copying_cells_into_blocks():
    # For cell histograms H copied into the block layout (before normalization),
    # copy(H) @ w == sum(H * cell_weights(w)): what a weight does to one cell's votes.
    params = HogParams(cell_size=8, orientations=5, block_size=3)
    rng = np.random.default_rng(7)
    hist = rng.uniform(size=(6, 6, 5))
    weights = rng.normal(size=params.n_features)
    copied = []
    for block_row in range(4):
        for block_col in range(4):
            for j in range(3):  # column-major inside the block
                for i in range(3):
                    copied.append(hist[block_row + i, block_col + j])
    copied = np.concatenate(copied)
    assert copied.shape == (params.n_features,)
    assert copied @ weights == pytest.approx((hist * cell_weights(weights, params)).sum())


def test_features_of_one_cell_fold_back_onto_that_cell():
    params = HogParams()
    # the four neighbours of (20, 8) are all in cell (3, 1), which is in 4 blocks
    features = hog_features(single_pixel(20, 8), params)[0]
    folded = cell_weights((features > 0).astype(float), params)
    expected = np.zeros((8, 8, 9))
    expected[3, 1, [0, 4, 8]] = 4
    np.testing.assert_array_equal(folded, expected)


def test_cell_weights_reject_the_wrong_length():
    with pytest.raises(ValueError, match="expected 1764 HOG weights"):
        cell_weights(np.zeros(1763), HogParams())


def test_glyph_of_one_cell_and_orientation_stays_inside_that_cell():
    params = HogParams()
    weights = np.zeros(params.n_features)
    weights[((2 * 7 + 5) * 4 + 1) * 9 + 4] = 2.0  # cell (3, 5), bin 4 (horizontal edges)
    image = glyph_image(weights, params, scale=4)
    assert image.shape == (192, 192)
    rows, cols = np.nonzero(image)
    assert rows.size > 0 and (image >= 0).all()
    assert rows.min() >= 3 * 24 and rows.max() < 4 * 24
    assert cols.min() >= 5 * 24 and cols.max() < 6 * 24
    # bin 4 is centred on a 90-degree gradient: the glyph is a horizontal line, drawn
    # scale // 4 = 1 pixel thick on each side of its centre row
    assert np.unique(rows).size == 3 and np.unique(cols).size > 12
    # 2 where the line runs alone; less where other (zero-weight) lines cross it, as the
    # picture shows the mean of the lines through each pixel
    assert image.max() == 2 and image.min() == 0


def test_glyph_scale_sets_the_picture_size():
    weights = np.random.default_rng(8).normal(size=1764)
    assert glyph_image(weights, HogParams(), scale=2).shape == (96, 96)
