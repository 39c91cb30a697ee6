"""The FER2013 data stage: read any of the three formats, split, featurize, normalize, save.

Output (one directory, written atomically, see :mod:`logreg.data.prepared`)::

    X_{train,val,test}.npy    float32 (n, 2304) normalized pixels, (n, 1764) HOG,
                              (n, 7200) k-means or (n, 8964) HOG + k-means features
    y_{train,val,test}.npy    int64 emotion index 0..6
    meta.json                 kind, class names, image shape, features (and HOG and
                              k-means layouts), normalization, sources, skipped rows
    normalization.npz         features, method, mean, std, HOG layout, k-means dictionary
                              (see logreg.data.faces.normalize)
    kmeans_centroids.png      k-means features only: the centroids, one small patch each
    skipped_rows.json         count, line numbers (or files) and messages of skipped rows
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
from logreg.data.faces.fer_format import CLASS_NAMES, IMAGE_SHAPE, USAGE_SPLIT, USAGES
from logreg.data.faces.folders import is_image_folder_root, read_fer_folders
from logreg.data.faces.hog import HogParams
from logreg.data.faces.kmeans import KmeansParams, save_mosaic
from logreg.data.faces.normalize import fit_and_normalize, normalize, save_stats
from logreg.data.prepared import SPLITS, PreparedDataset, save_prepared
from logreg.errors import DataError
from logreg.fileio import atomic_dir
from logreg.linear.model_selection import stratified_partition

log = logging.getLogger(__name__)
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
    return RawFaces(pixels, labels, {os.fspath(root): digest}, "image_folders", skipped)


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


def _report_skipped(skipped: dict, source: str) -> None:
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


def prepare_faces(
    input_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    normalization: str = "per_pixel",
    features: str = "pixels",
    hog: HogParams | None = None,
    kmeans: KmeansParams | None = None,
    n_threads: int | None = None,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> PreparedDataset:
    """Read, validate, split, featurize and normalize FER2013; write the prepared dataset.

    Normalization statistics come from the train split only. ``out_dir`` is replaced
    atomically: on any error nothing is written and an earlier result stays intact.

    Parameters
    ----------
    input_path : path-like
        See :func:`load_fer2013`.
    out_dir : path-like
        The prepared dataset directory (e.g. ``results/data/faces/demo/hog``).
    normalization : {"scale", "per_pixel", "per_image"}
        ``per_pixel`` only for HOG features.
    features : {"pixels", "hog", "kmeans", "hog+kmeans"}
        The grey levels themselves, their histograms of oriented gradients, k-means patch
        features (dictionary learned on the train split), or HOG and k-means side by side.
    hog : HogParams, optional
        The HOG layout (features with ``hog``); default :class:`HogParams()`.
    kmeans : KmeansParams, optional
        The k-means layout and fit (features with ``kmeans``); default :class:`KmeansParams()`.
    n_threads : int, optional
        Threads of the k-means encoding; default: the CPUs this process may use.
    skip_bad_rows, val_fraction, seed
        See :func:`load_fer2013`.

    Returns
    -------
    PreparedDataset
        What was written (in memory, not memory-mapped).
    """
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
    _report_skipped(raw.skipped, os.fspath(input_path))
    featurized = time.perf_counter()
    stats, X_train = fit_and_normalize(
        raw.pixels["train"], normalization, features, hog, kmeans, n_threads
    )
    X = {
        split: X_train if split == "train" else normalize(raw.pixels[split], stats, n_threads)
        for split in SPLITS
    }
    feature_seconds = time.perf_counter() - featurized
    log.info(
        "%s features (%d per image), %s normalization, in %.1f s",
        features,
        stats.n_features,
        normalization,
        feature_seconds,
    )
    for split in SPLITS:
        counts = np.bincount(raw.labels[split], minlength=len(CLASS_NAMES))
        log.info(
            "%s: %d images (%s)",
            split,
            raw.labels[split].size,
            ", ".join(f"{n} {c}" for n, c in zip(CLASS_NAMES, counts)),
        )
    meta = {
        "kind": "faces",
        "name": "fer2013",
        "class_names": list(CLASS_NAMES),
        "image_shape": list(IMAGE_SHAPE),
        "features": features,
        "normalization": normalization,
        # Wall time of features + normalization (all splits): runs log it beside fit_seconds.
        "feature_seconds": round(feature_seconds, 2),
        "source_files": raw.source_files,
        "source_format": raw.source_format,
        "split_sizes": {split: int(raw.labels[split].size) for split in SPLITS},
        "skipped_rows": {
            "count": raw.skipped["count"],
            "lines": raw.skipped["lines"],
            "files": raw.skipped["files"],
        },
    }
    if stats.hog is not None:
        meta["hog"] = {
            "cell_size": stats.hog.cell_size,
            "orientations": stats.hog.orientations,
            "block_size": stats.hog.block_size,
        }
    if stats.kmeans is not None:
        meta["kmeans"] = stats.kmeans.params.to_dict()
    if raw.source_format == "image_folders":
        meta.update(val_fraction=val_fraction, seed=seed)
    dataset = PreparedDataset(X=X, y=dict(raw.labels), meta=meta)
    with atomic_dir(out_dir) as tmp:
        # save_prepared swaps its own complete directory in for `tmp`; the extra files
        # then join it, and the whole is swapped in for out_dir at once.
        save_prepared(tmp, dataset)
        save_stats(tmp / "normalization.npz", stats)
        if stats.kmeans is not None:
            save_mosaic(tmp / "kmeans_centroids.png", stats.kmeans)
        (tmp / "skipped_rows.json").write_text(
            json.dumps(raw.skipped, indent=2) + "\n", encoding="utf-8"
        )
    log.info(
        "wrote %s (%s features, %s normalization) in %.1f s",
        out_dir,
        features,
        normalization,
        time.perf_counter() - started,
    )
    return dataset
