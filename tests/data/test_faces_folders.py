"""Reading the image-folder layout <root>/{train,test}/<emotion>/*.png|jpg."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from logreg.data.faces.folders import folder_digest, read_fer_folders
from logreg.data.faces.prepare import load_fer2013, stratified_split
from logreg.errors import DataError


def _save(path, pixels, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels.astype(np.uint8), mode="L")
    if mode != "L":
        image = image.convert(mode)
    image.save(path)


@pytest.fixture
def tree(tmp_path):
    """4 train and 2 test PNGs per emotion, folder names in mixed case."""
    rng = np.random.default_rng(5)
    images = {}
    names = ["Angry", "disgust", "FEAR", "happy", "sad", "surprise", "neutral"]
    for split, n in (("train", 4), ("test", 2)):
        for label, name in enumerate(names):
            for i in range(n):
                pixels = rng.integers(0, 256, (48, 48))
                _save(tmp_path / split / name / f"im{i}.png", pixels)
                images[f"{split}/{name}/im{i}.png"] = (label, pixels.reshape(-1))
    return tmp_path, images


def test_reads_pngs_with_labels_from_folder_names(tree):
    root, expected = tree
    images, skipped, digest = read_fer_folders(root)
    assert skipped == [] and len(digest) == 64
    assert len(images["train"].files) == 28 and len(images["test"].files) == 14
    for split in ("train", "test"):
        found = images[split]
        assert found.pixels.dtype == np.uint8
        for file, pixels, label in zip(found.files, found.pixels, found.labels):
            assert label == expected[file][0]
            np.testing.assert_array_equal(pixels, expected[file][1])
    np.testing.assert_array_equal(images["test"].labels, np.repeat(np.arange(7), 2))


def test_folder_digest_is_the_recorded_one_and_changes_with_one_byte(tree):
    """``python -m logreg.reproduce`` checks an image folder by this digest, without
    decoding the images: it must be the one the data stage recorded."""
    root, _ = tree
    (root / "train" / "happy" / "notes.txt").write_text("not an image: not in the digest")
    _, _, recorded = read_fer_folders(root)
    assert folder_digest(root) == recorded
    image = root / "test" / "sad" / "im1.png"
    data = bytearray(image.read_bytes())
    data[-1] ^= 1
    image.write_bytes(bytes(data))
    assert folder_digest(root) != recorded


def test_rgb_and_jpeg_images_are_converted_to_grey(tree):
    root, _ = tree
    grey = np.full((48, 48), 120)
    _save(root / "train" / "happy" / "colour.png", grey, mode="RGB")
    _save(root / "train" / "happy" / "photo.JPG", grey)
    (root / "train" / "happy" / "notes.txt").write_text("not an image")
    images, _, _ = read_fer_folders(root)
    files = images["train"].files
    colour = images["train"].pixels[files.index("train/happy/colour.png")]
    photo = images["train"].pixels[files.index("train/happy/photo.JPG")]
    np.testing.assert_array_equal(colour, 120)
    assert np.abs(photo.astype(int) - 120).max() <= 2  # JPEG is lossy
    assert "train/happy/notes.txt" not in files


def test_wrong_size_image_is_an_error_naming_the_file(tree):
    root, _ = tree
    _save(root / "test" / "sad" / "big.png", np.zeros((48, 50)))
    with pytest.raises(
        DataError,
        match=r"test/sad/big\.png: image is 50x48 pixels, "
        r"expected 48x48",
    ):
        read_fer_folders(root)


def test_unreadable_image_is_an_error_or_skipped(tree):
    root, _ = tree
    (root / "train" / "FEAR" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"train/FEAR/broken\.png: cannot read the image"):
        read_fer_folders(root)
    images, skipped, _ = read_fer_folders(root, skip_bad_files=True)
    assert [file for file, _ in skipped] == ["train/FEAR/broken.png"]
    assert len(images["train"].files) == 28


def test_unknown_emotion_folder_is_an_error(tree):
    root, _ = tree
    _save(root / "train" / "contempt" / "a.png", np.zeros((48, 48)))
    with pytest.raises(
        DataError,
        match=r"train: unknown emotion folder 'contempt': "
        r"expected one of angry, disgust, fear",
    ):
        read_fer_folders(root)


def test_folder_without_train_and_test_is_an_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"without train/ and test/ sub-folders"):
        load_fer2013(tmp_path)
    with pytest.raises(DataError, match=r"no such file or folder"):
        load_fer2013(tmp_path / "missing.csv")


def test_folder_layout_gets_a_seeded_stratified_validation_split(tree):
    root, _ = tree
    raw = load_fer2013(root, val_fraction=0.25, seed=11)
    assert raw.source_format == "image_folders"
    np.testing.assert_array_equal(np.bincount(raw.labels["val"], minlength=7), [1] * 7)
    np.testing.assert_array_equal(np.bincount(raw.labels["train"], minlength=7), [3] * 7)
    assert raw.labels["test"].size == 14
    again = load_fer2013(root, val_fraction=0.25, seed=11)
    np.testing.assert_array_equal(again.pixels["val"], raw.pixels["val"])
    other = load_fer2013(root, val_fraction=0.25, seed=12)
    assert not np.array_equal(other.pixels["val"], raw.pixels["val"])


def test_stratified_split_keeps_class_shares_and_both_sides_of_rare_classes():
    labels = np.repeat(np.arange(7), [400, 3, 100, 200, 50, 20, 2])
    kept, held_out = stratified_split(labels, 0.1, np.random.default_rng(0))
    assert np.intersect1d(kept, held_out).size == 0
    assert kept.size + held_out.size == labels.size
    np.testing.assert_array_equal(
        np.bincount(labels[held_out], minlength=7), [40, 1, 10, 20, 5, 2, 1]
    )
