"""The FER2013 data stage end to end: prepared output, atomicity, command line, real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from logreg.cli import run_cli
from logreg.data.faces import load_stats, normalize, parse_pixel_string
from logreg.data.faces.__main__ import main
from logreg.data.faces.hog import HogParams, hog_features
from logreg.data.faces.prepare import load_fer2013, prepare_faces
from logreg.data.prepared import load_prepared
from paths import SHARED_DATA as DATA

REAL_FER = DATA / "fer2013" / "fer2013.csv.gz"
USAGES = ["Training"] * 12 + ["PublicTest"] * 4 + ["PrivateTest"] * 5


@pytest.fixture
def fer_csv(tmp_path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 200, (21, 2304))
    pixels[12:] += 50  # val and test are brighter than train
    labels = np.arange(21) % 7
    lines = ["emotion,pixels,Usage"] + [
        f"{k},{' '.join(map(str, p))},{u}" for k, p, u in zip(labels, pixels, USAGES)
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, pixels, labels


def test_prepared_dataset_has_usage_splits_float32_arrays_and_metadata(tmp_path, fer_csv):
    path, pixels, labels = fer_csv
    out = tmp_path / "prepared"
    prepare_faces(path, out, normalization="per_pixel", seed=0)
    prepared = load_prepared(out)
    assert isinstance(prepared.X["train"], np.memmap)
    for split, rows in (("train", slice(0, 12)), ("val", slice(12, 16)), ("test", slice(16, 21))):
        assert prepared.X[split].dtype == np.float32
        assert prepared.X[split].shape == (rows.stop - rows.start, 2304)
        np.testing.assert_array_equal(prepared.y[split], labels[rows])
    meta = prepared.meta
    assert meta["kind"] == "faces" and meta["name"] == "fer2013"
    assert meta["class_names"] == [
        "Angry",
        "Disgust",
        "Fear",
        "Happy",
        "Sad",
        "Surprise",
        "Neutral",
    ]
    assert meta["image_shape"] == [48, 48] and meta["normalization"] == "per_pixel"
    assert list(meta["source_files"]) == [str(path)]
    assert meta["skipped_rows"] == {"count": 0, "lines": [], "files": []}
    # statistics of the training rows only, applied to every split
    stats = load_stats(out / "normalization.npz")
    np.testing.assert_allclose(stats.mean, pixels[:12].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(prepared.X["test"], normalize(pixels[16:], stats))
    assert prepared.X["val"].mean() > 0.5  # +50 grey levels over a train std of ~58


@pytest.mark.parametrize("method", ["scale", "per_image"])
def test_other_normalizations_are_written(tmp_path, fer_csv, method):
    path, pixels, _ = fer_csv
    prepare_faces(path, tmp_path / "prepared", normalization=method, seed=0)
    prepared = load_prepared(tmp_path / "prepared")
    assert prepared.meta["normalization"] == method
    if method == "scale":
        np.testing.assert_array_equal(prepared.X["train"], pixels[:12].astype(np.float32) / 255)
    else:
        np.testing.assert_allclose(prepared.X["val"].mean(axis=1), 0, atol=1e-5)


def test_skipped_rows_are_written_for_training_to_log(tmp_path, fer_csv):
    path, _, _ = fer_csv
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace(",", ",300 ", 1)
    path.write_text("\n".join(lines) + "\n")
    prepare_faces(path, tmp_path / "prepared", skip_bad_rows=True, seed=0)
    report = json.loads((tmp_path / "prepared" / "skipped_rows.json").read_text())
    assert report["count"] == 1 and report["lines"] == [5]
    assert report["examples"][0]["message"].startswith("pixels: value 1 is 300")
    meta = load_prepared(tmp_path / "prepared").meta
    assert meta["skipped_rows"]["lines"] == [5]
    assert meta["split_sizes"] == {"train": 11, "val": 4, "test": 5}


def test_missing_usage_split_is_an_error(tmp_path, fer_csv):
    path, _, _ = fer_csv
    path.write_text(path.read_text().replace("PrivateTest", "PublicTest"))
    with pytest.raises(
        Exception,
        match=r"fer2013\.csv: no valid rows with Usage PrivateTest: "
        r"the test split would be empty",
    ):
        load_fer2013(path)


def test_bad_input_exits_2_with_file_and_line_and_keeps_earlier_results(tmp_path, fer_csv, capsys):
    path, _, _ = fer_csv
    out = tmp_path / "prepared"
    args = ["prepare", "--input", str(path), "--out-dir", str(out), "--seed", "1"]
    run_cli(main, args)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    lines = path.read_text().splitlines()
    lines[7] = "9" + lines[7][1:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as info:
        run_cli(main, args + ["--normalization", "scale"])
    assert info.value.code == 2
    assert f"error: {path}:8: emotion: expected an integer label in 0..6" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer2013.csv", "prepared"]


def test_bad_val_fraction_is_a_user_error(tmp_path, fer_csv, capsys):
    path, _, _ = fer_csv
    with pytest.raises(SystemExit) as info:
        run_cli(
            main,
            [
                "prepare",
                "--input",
                str(path),
                "--out-dir",
                str(tmp_path / "p"),
                "--val-fraction",
                "1.5",
                "--seed",
                "1",
            ],
        )
    assert info.value.code == 2
    assert "error: --val-fraction: expected a number in (0, 1), got 1.5" in capsys.readouterr().err


def test_image_folder_input_is_prepared(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 10), ("test", 3)):
        for name in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
            (tmp_path / "faces" / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(
                    tmp_path / "faces" / split / name / f"{i}.png"
                )
    prepare_faces(
        tmp_path / "faces", tmp_path / "prepared", normalization="scale", val_fraction=0.2, seed=3
    )
    prepared = load_prepared(tmp_path / "prepared")
    assert prepared.meta["split_sizes"] == {"train": 56, "val": 14, "test": 21}
    assert prepared.meta["source_format"] == "image_folders"


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not REAL_FER.is_file(), reason=f"real FER2013 not found at {REAL_FER}")
def test_real_file_splits_and_pixels():
    import pandas as pd

    raw = load_fer2013(REAL_FER)
    assert {s: raw.labels[s].size for s in raw.labels} == {
        "train": 28709,
        "val": 3589,
        "test": 3589,
    }
    np.testing.assert_array_equal(
        np.bincount(raw.labels["test"]), [491, 55, 528, 879, 594, 416, 626]
    )
    assert raw.skipped["count"] == 0
    # The first 1,167 rows, parsed the slow and obvious way, must match exactly.
    head = pd.read_csv(DATA / "fer2013" / "fer2013_head.csv")
    expected = np.array([np.array(p.split(), dtype=np.uint8) for p in head["pixels"]])
    np.testing.assert_array_equal(raw.pixels["train"][: len(head)], expected)
    np.testing.assert_array_equal(raw.labels["train"][: len(head)], head["emotion"])


def test_hog_features_are_prepared_with_their_layout(tmp_path, fer_csv):
    path, pixels, labels = fer_csv
    out = tmp_path / "prepared"
    prepare_faces(path, out, features="hog", seed=0)
    prepared = load_prepared(out)
    for split, rows in (("train", 12), ("val", 4), ("test", 5)):
        assert prepared.X[split].dtype == np.float32
        assert prepared.X[split].shape == (rows, 1764)
    np.testing.assert_array_equal(prepared.y["test"], labels[16:])
    assert prepared.meta["features"] == "hog"
    assert prepared.meta["hog"] == {"cell_size": 6, "orientations": 9, "block_size": 2}
    assert prepared.meta["normalization"] == "per_pixel"
    stats = load_stats(out / "normalization.npz")
    assert stats.features == "hog" and stats.part("hog").params == HogParams()
    # statistics of the training rows only
    train_hog = hog_features(pixels[:12]).astype(np.float64)
    np.testing.assert_allclose(stats.mean, train_hog.mean(axis=0), rtol=1e-5, atol=1e-7)
    # a raw CSV row through the saved statistics, as a served model does it
    line = path.read_text().splitlines()[1 + 17]  # header, then test row 1
    image = parse_pixel_string(line.split(",")[1])
    np.testing.assert_array_equal(normalize(image, stats), prepared.X["test"][1:2])


def test_pixel_features_are_recorded_in_meta(tmp_path, fer_csv):
    path, _, _ = fer_csv
    prepare_faces(path, tmp_path / "prepared", seed=0)
    meta = load_prepared(tmp_path / "prepared").meta
    assert meta["features"] == "pixels" and "hog" not in meta
    assert load_stats(tmp_path / "prepared" / "normalization.npz").features == "pixels"


def test_hog_layout_options_reach_the_prepared_dataset(tmp_path, fer_csv):
    path, _, _ = fer_csv
    out = tmp_path / "prepared"
    run_cli(
        main,
        [
            "prepare",
            "--input",
            str(path),
            "--out-dir",
            str(out),
            "--seed",
            "1",
            "--features",
            "hog",
            "--hog-cell-size",
            "8",
            "--hog-orientations",
            "6",
            "--hog-block-size",
            "3",
        ],
    )
    prepared = load_prepared(out)
    assert prepared.meta["hog"] == {"cell_size": 8, "orientations": 6, "block_size": 3}
    assert prepared.X["train"].shape == (12, HogParams(8, 6, 3).n_features) == (12, 864)
    assert load_stats(out / "normalization.npz").part("hog").params == HogParams(8, 6, 3)


@pytest.mark.parametrize("method", ["scale", "per_image"])
def test_hog_with_another_normalization_exits_2_naming_the_option(
    tmp_path, fer_csv, capsys, method
):
    path, _, _ = fer_csv
    with pytest.raises(SystemExit) as info:
        run_cli(
            main,
            [
                "prepare",
                "--input",
                str(path),
                "--out-dir",
                str(tmp_path / "p"),
                "--features",
                "hog",
                "--normalization",
                method,
                "--seed",
                "1",
            ],
        )
    assert info.value.code == 2
    assert (
        f"error: --normalization {method}: hog features take per_pixel" in capsys.readouterr().err
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer2013.csv"]


@pytest.mark.parametrize(
    "option, value",
    [
        ("--hog-cell-size", "5"),
        ("--hog-cell-size", "0"),
        ("--hog-orientations", "0"),
        ("--hog-block-size", "9"),
    ],
)
def test_bad_hog_layout_exits_2_naming_the_options_before_reading(
    tmp_path, fer_csv, capsys, option, value
):
    path, _, _ = fer_csv
    for source in (path, tmp_path / "missing.csv"):  # checked before any data is read
        with pytest.raises(SystemExit) as info:
            run_cli(
                main,
                [
                    "prepare",
                    "--input",
                    str(source),
                    "--out-dir",
                    str(tmp_path / "p"),
                    "--features",
                    "hog",
                    option,
                    value,
                    "--seed",
                    "1",
                ],
            )
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: HOG ") and option in err
        assert "missing.csv" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fer2013.csv"]


def test_kmeans_options_reach_the_prepared_dataset_with_its_centroid_picture(tmp_path, fer_csv):
    path, _, _ = fer_csv
    out = tmp_path / "prepared"
    options = {"patch-size": "8", "n-centroids": "10", "whitening-epsilon": "0.5"}
    options.update({"pool-grid": "3", "stride": "2", "n-patches": "500", "n-iter": "3"})
    options.update({"seed": "4", "flip": "average"})
    argv = ["prepare", "--input", str(path), "--out-dir", str(out), "--seed", "1"]
    argv += ["--features", "hog+kmeans"]
    for name, value in options.items():
        argv += [f"--kmeans-{name}", value]
    run_cli(main, argv)
    prepared = load_prepared(out)
    expected = {"patch_size": 8, "n_centroids": 10, "whitening_epsilon": 0.5, "pool_grid": 3}
    expected.update({"stride": 2, "n_patches": 500, "n_iter": 3, "seed": 4, "flip": "average"})
    assert prepared.meta["kmeans"] == expected
    assert (
        prepared.meta["features"] == "hog+kmeans" and prepared.meta["normalization"] == "per_pixel"
    )
    assert prepared.X["train"].shape == (12, 1764 + 9 * 10 // 2)  # flip: centroid pairs
    stats = load_stats(out / "normalization.npz")
    assert stats.part("kmeans").params.to_dict() == expected
    assert (out / "kmeans_centroids.png").read_bytes().startswith(b"\x89PNG")
    # a raw CSV row through the saved statistics, as a served model does it
    line = path.read_text().splitlines()[1 + 17]  # header, then test row 1
    image = parse_pixel_string(line.split(",")[1])
    np.testing.assert_array_equal(normalize(image, stats), prepared.X["test"][1:2])


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--kmeans-patch-size", "49", "patch_size 49 is larger than the 48x48 image"),
        ("--kmeans-pool-grid", "44", "pool_grid 44 is finer than the 43 patch positions"),
        ("--kmeans-whitening-epsilon", "0", "whitening_epsilon must be a positive number"),
    ],
)
def test_bad_kmeans_layout_exits_2_naming_the_options_before_reading(
    tmp_path, capsys, option, value, message
):
    argv = ["prepare", "--input", str(tmp_path / "missing.csv"), "--out-dir", str(tmp_path / "p")]
    argv += ["--features", "kmeans", option, value, "--seed", "1"]
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and option in err and "missing.csv" not in err


def test_kmeans_threads_option_gives_the_same_bits(tmp_path, fer_csv):
    path, _, _ = fer_csv
    small = ["--kmeans-n-centroids", "10", "--kmeans-n-patches", "500", "--kmeans-n-iter", "2"]
    outputs = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        argv = ["prepare", "--input", str(path), "--out-dir", str(out), "--seed", "1"]
        run_cli(main, argv + ["--features", "kmeans", "--threads", threads, *small])
        outputs.append(load_prepared(out))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(outputs[0].X[split], outputs[1].X[split])
