"""Parse FER2013 once: CSV / CSV.gz / image folders -> one memory-mappable image store.

The workflow's ``parse_faces`` rule reads and validates the source once (errors name the
file, line and column; ``--skip-bad-rows`` skips and reports); every feature kind's
``prepare_faces`` job then reads the store with ``numpy.load(mmap_mode="r")``. Output (one
directory, written atomically)::

    images.npy          uint8 (n, 2304): train, then val, then test rows
    labels.npy          int64 (n,) emotion index 0..6
    meta.json           kind "face_images", split_sizes (in that order), source_files
                        (path -> sha256), source_format, skipped_rows; image folders
                        also val_fraction and seed
    skipped_rows.json   count, line numbers (or files) and messages of skipped rows
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from logreg.data.faces.csv_reader import read_fer_csv
from logreg.data.faces.fer_format import USAGE_SPLIT, USAGES
from logreg.data.faces.folders import is_image_folder_root, read_fer_folders
from logreg.data.prepared import SPLITS
from logreg.errors import DataError
from logreg.fileio import atomic_dir
from logreg.linear.model_selection import stratified_partition

log = logging.getLogger(__name__)
STORE_KIND = "face_images"
_LOGGED_EXAMPLES = 10


@dataclass
class RawFaces:
    """Raw (uint8) images of the three splits, with where they came from.

    ``skipped`` is the report written to ``skipped_rows.json``: ``count``, ``lines``
    (CSV line numbers), ``files`` (image-folder paths) and ``examples`` (messages).
    """

    pixels: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    source_files: dict[str, str]
    source_format: str
    skipped: dict = field(default_factory=dict)
    # Image folders only: the seeded stratified share of train/ held out for val.
    val_fraction: float | None = None
    seed: int | None = None


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held out) with ``fraction`` of each class held out.

    A class of at least two examples gives at least one to each side. Both index
    arrays are sorted, so the original order is kept within each part.
    """
    held_out = stratified_partition(labels, [fraction], rng) == 0
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _from_csv(path: Path, skip_bad_rows: bool) -> RawFaces:
    rows, digest = read_fer_csv(path, skip_bad_rows=skip_bad_rows)
    pixels, labels = {}, {}
    for code, usage in enumerate(USAGES):
        split = USAGE_SPLIT[usage]
        members = np.flatnonzero(rows.usage == code)
        if members.size == 0:
            raise DataError(
                f"no valid rows with Usage {usage}: the {split} split would be "
                f"empty (expected Training, PublicTest and PrivateTest rows)",
                where=path,
            )
        if members[-1] - members[0] + 1 == members.size:
            members = slice(members[0], members[-1] + 1)  # contiguous, as in FER2013: a view
        pixels[split], labels[split] = rows.pixels[members], rows.labels[members]
    skipped = {
        "count": len(rows.skipped_lines),
        "lines": rows.skipped_lines,
        "files": [],
        "examples": [{"line": n, "message": m} for n, m in rows.skipped_examples],
    }
    return RawFaces(pixels, labels, {os.fspath(path): digest}, "csv", skipped)


def _from_folders(root: Path, skip_bad_rows: bool, val_fraction: float, seed: int) -> RawFaces:
    images, skipped_files, digest = read_fer_folders(root, skip_bad_files=skip_bad_rows)
    train, test = images["train"], images["test"]
    kept, held_out = stratified_split(train.labels, val_fraction, np.random.default_rng(seed))
    if held_out.size == 0:
        raise DataError(
            f"train/ has too few images ({train.labels.size}) for a validation "
            f"split of {val_fraction:g}",
            where=root,
        )
    pixels = {"train": train.pixels[kept], "val": train.pixels[held_out], "test": test.pixels}
    labels = {"train": train.labels[kept], "val": train.labels[held_out], "test": test.labels}
    skipped = {
        "count": len(skipped_files),
        "lines": [],
        "files": [f for f, _ in skipped_files],
        "examples": [{"file": f, "message": m} for f, m in skipped_files],
    }
    return RawFaces(
        pixels, labels, {os.fspath(root): digest}, "image_folders", skipped, val_fraction, seed
    )


def load_fer2013(
    path: str | os.PathLike,
    *,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> RawFaces:
    """Read FER2013 from ``path`` in whichever format it is, split into train/val/test.

    Parameters
    ----------
    path : path-like
        ``fer2013.csv``, ``fer2013.csv.gz`` or an image-folder root with ``train/``
        and ``test/``. CSV splits follow ``Usage`` (Training -> train, PublicTest ->
        val, PrivateTest -> test).
    skip_bad_rows : bool
        Skip invalid rows (or images) and report them instead of raising.
    val_fraction : float
        Image folders only: fraction of each class of ``train/`` held out for ``val``.
    seed : int
        Image folders only: seed of that stratified split.

    Returns
    -------
    RawFaces
    """
    path = Path(path)
    if path.is_dir():
        if not is_image_folder_root(path):
            raise DataError(
                "a folder, but without train/ and test/ sub-folders: expected "
                "<root>/{train,test}/<emotion>/*.png|jpg, or a .csv/.csv.gz "
                "file",
                where=path,
            )
        return _from_folders(path, skip_bad_rows, val_fraction, seed)
    if not path.exists():
        raise DataError(
            "no such file or folder: expected fer2013.csv, fer2013.csv.gz or an image-folder root",
            where=path,
        )
    return _from_csv(path, skip_bad_rows)


def report_skipped(skipped: dict, source: str) -> None:
    if not skipped["count"]:
        return
    where = skipped["lines"] or skipped["files"]
    shown = ", ".join(map(str, where[:_LOGGED_EXAMPLES]))
    more = f" and {len(where) - _LOGGED_EXAMPLES} more" if len(where) > _LOGGED_EXAMPLES else ""
    kind = "lines" if skipped["lines"] else "files"
    log.warning(
        "%s: skipped %d invalid rows (%s %s%s); details in skipped_rows.json",
        source,
        skipped["count"],
        kind,
        shown,
        more,
    )
    for example in skipped["examples"][:_LOGGED_EXAMPLES]:
        log.warning("  %s: %s", example.get("line", example.get("file")), example["message"])


def _source_meta(raw: RawFaces) -> dict:
    return {
        "source_files": raw.source_files,
        "source_format": raw.source_format,
        "split_sizes": {split: int(raw.labels[split].size) for split in SPLITS},
        "skipped_rows": {
            "count": raw.skipped["count"],
            "lines": raw.skipped["lines"],
            "files": raw.skipped["files"],
        },
        **({"val_fraction": raw.val_fraction, "seed": raw.seed} if raw.val_fraction else {}),
    }


def read_source(
    input_path: str | os.PathLike,
    *,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> RawFaces:
    """:func:`load_fer2013`, saying how many images it read, how long it took and which
    rows it skipped."""
    started = time.perf_counter()
    raw = load_fer2013(
        input_path, skip_bad_rows=skip_bad_rows, val_fraction=val_fraction, seed=seed
    )
    log.info(
        "read and validated %d images from %s in %.1f s",
        sum(v.size for v in raw.labels.values()),
        os.fspath(input_path),
        time.perf_counter() - started,
    )
    report_skipped(raw.skipped, os.fspath(input_path))
    return raw


def parse_faces(
    input_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> RawFaces:
    """Read and validate FER2013 once (:func:`load_fer2013`) and write the image store.

    ``out_dir`` is replaced atomically: on any error nothing is written and an earlier
    store stays intact. Returns what was read.
    """
    started = time.perf_counter()
    raw = read_source(input_path, skip_bad_rows=skip_bad_rows, val_fraction=val_fraction, seed=seed)
    meta = {"kind": STORE_KIND, **_source_meta(raw)}
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "images.npy", np.concatenate([raw.pixels[s] for s in SPLITS]))
        np.save(tmp / "labels.npy", np.concatenate([raw.labels[s] for s in SPLITS]))
        (tmp / "skipped_rows.json").write_text(
            json.dumps(raw.skipped, indent=2) + "\n", encoding="utf-8"
        )
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s in %.1f s", out_dir, time.perf_counter() - started)
    return raw


def is_image_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`parse_faces`."""
    return Path(path, "images.npy").is_file() and Path(path, "meta.json").is_file()


def load_images(folder: str | os.PathLike) -> RawFaces:
    """The image store of :func:`parse_faces`, memory-mapped (read-only views per split)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        images = np.load(folder / "images.npy", mmap_mode="r")
        labels = np.load(folder / "labels.npy", mmap_mode="r")
        skipped = json.loads((folder / "skipped_rows.json").read_text(encoding="utf-8"))
        sizes = [int(meta["split_sizes"][split]) for split in SPLITS]
        if meta.get("kind") != STORE_KIND or images.dtype != np.uint8:
            raise ValueError(f"kind {meta.get('kind')!r}, images of dtype {images.dtype}")
        if images.shape != (sum(sizes), 2304) or labels.shape != (sum(sizes),):
            raise ValueError(f"images {images.shape}, labels {labels.shape}, splits {sizes}")
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"not a parsed face image folder ({exc})", where=folder) from None
    bounds = np.cumsum([0, *sizes])
    pixels = {s: images[bounds[i] : bounds[i + 1]] for i, s in enumerate(SPLITS)}
    split_labels = {s: labels[bounds[i] : bounds[i + 1]] for i, s in enumerate(SPLITS)}
    return RawFaces(
        pixels,
        split_labels,
        dict(meta["source_files"]),
        meta["source_format"],
        skipped,
        meta.get("val_fraction"),
        meta.get("seed"),
    )
