"""FER2013 is read and validated once (``parse``); every feature kind reads the image store."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from commands import snakemake
from logreg.cli import run_cli
from logreg.data.faces import images as images_module
from logreg.data.faces.__main__ import main
from logreg.data.faces.demo import write_demo_csv
from logreg.data.faces.images import load_images, parse_faces
from logreg.data.faces.kmeans import KmeansParams
from logreg.data.faces.prepare import load_fer2013, prepare_faces
from logreg.data.prepared import SPLITS, load_prepared
from logreg.errors import DataError

SMALL_KMEANS = KmeansParams(n_centroids=12, n_patches=600, n_iter=2, seed=5)


@pytest.fixture
def demo_csv(tmp_path):
    path = tmp_path / "fer.csv"
    write_demo_csv(path, 210, seed=12)
    return path


def test_the_csv_is_read_once_for_every_feature_kind(tmp_path, demo_csv, monkeypatch):
    reads = []
    real_reader = images_module.read_fer_csv

    def counting_reader(path, **kwargs):
        reads.append(path)
        return real_reader(path, **kwargs)

    monkeypatch.setattr(images_module, "read_fer_csv", counting_reader)
    parse_faces(demo_csv, tmp_path / "images")
    for spec in ("pixels", "hog", "kmeans", "hog+kmeans"):
        options = {"kmeans": SMALL_KMEANS} if "kmeans" in spec else {}
        from_store = prepare_faces(tmp_path / "images", tmp_path / spec, features=spec, **options)
        # The same dataset as preparing straight from the CSV, bit for bit.
        direct = prepare_faces(demo_csv, tmp_path / f"direct_{spec}", features=spec, **options)
        for split in SPLITS:
            np.testing.assert_array_equal(from_store.X[split], direct.X[split])
            np.testing.assert_array_equal(from_store.y[split], direct.y[split])
        assert from_store.meta == {
            **direct.meta,
            "feature_seconds": from_store.meta["feature_seconds"],
        }
    assert len(reads) == 1 + 4  # the parse, and the four direct preparations only


def test_the_image_store_is_memory_mapped_uint8_in_split_order(tmp_path, demo_csv):
    run_cli(
        main,
        ["parse", "--input", str(demo_csv), "--out-dir", str(tmp_path / "images"), "--seed", "0"],
    )
    raw = load_fer2013(demo_csv)
    store = load_images(tmp_path / "images")
    assert isinstance(store.pixels["train"], np.memmap)
    for split in SPLITS:
        assert store.pixels[split].dtype == np.uint8
        np.testing.assert_array_equal(store.pixels[split], raw.pixels[split])
        np.testing.assert_array_equal(store.labels[split], raw.labels[split])
    meta = json.loads((tmp_path / "images" / "meta.json").read_text())
    assert meta["kind"] == "face_images" and meta["source_format"] == "csv"
    assert meta["split_sizes"] == {s: int(raw.labels[s].size) for s in SPLITS}
    prepared = tmp_path / "hog"
    run_cli(
        main,
        [
            "prepare",
            "--input",
            str(tmp_path / "images"),
            "--out-dir",
            str(prepared),
            "--features",
            "hog",
        ],
    )
    assert load_prepared(prepared).meta["source_files"] == raw.source_files


def test_a_bad_row_fails_the_parse_naming_file_line_column_and_writes_nothing(tmp_path, demo_csv):
    lines = demo_csv.read_bytes().split(b"\n")
    label, pixels, usage = lines[5].split(b",")
    lines[5] = b",".join([label, pixels.replace(b" ", b" 2x6 ", 1), usage])
    demo_csv.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=re.escape(f"{demo_csv}:6: ")):
        parse_faces(demo_csv, tmp_path / "images")
    assert not (tmp_path / "images").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fer.csv"]  # no half-written folder
    raw = parse_faces(demo_csv, tmp_path / "images", skip_bad_rows=True)
    assert raw.skipped["lines"] == [6]
    skipped = json.loads((tmp_path / "images" / "skipped_rows.json").read_text())
    assert skipped["count"] == 1 and skipped["lines"] == [6]


def test_a_folder_that_is_no_image_store_is_a_data_error(tmp_path):
    (tmp_path / "meta.json").write_text("{}")
    with pytest.raises(DataError, match="not a parsed face image folder"):
        load_images(tmp_path)


def test_in_the_workflow_only_parse_faces_reads_the_source(tmp_path):
    """The rule graph of the demo workflow: one job has the FER2013 source as its input."""
    result = snakemake(tmp_path, "-n", "--printshellcmds")
    assert result.returncode == 0, result.stderr[-3000:]
    commands = [
        line for line in result.stdout.splitlines() if "python -m logreg.data.faces" in line
    ]
    readers = [c for c in commands if "--input data/demo/fer2013.csv" in c]
    assert len(readers) == 1 and " parse " in readers[0]
    prepares = [c for c in commands if " prepare " in c]
    assert len(prepares) == 3  # pixels, hog, kmeans of the demo experiments
    assert all("--input results/data/faces/demo/images" in c for c in prepares)
