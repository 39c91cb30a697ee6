"""The FER2013 data stage: featurize and normalize the parsed images, save.

Input: the image store of :func:`logreg.data.faces.images.parse_faces` (memory-mapped), or
a raw source (CSV, CSV.gz, image folders), which is then parsed in memory first.

Output (one directory, written atomically, see :mod:`logreg.data.prepared`)::

    X_{train,val,test}.npy    float32 (n, n_features): normalized pixels (2304), HOG
                              (1764), k-means (7200), HOG + k-means (8964), ...
    y_{train,val,test}.npy    int64 emotion index 0..6
    meta.json                 kind, class names, image shape, features (and each kind's
                              options under its name), normalization, sources, skipped rows
    normalization.npz         features, method, mean, std and what each kind learned
                              (see logreg.data.faces.normalize)
    <kind>_*.png              figures of a kind (k-means: kmeans_centroids.png)
    skipped_rows.json         count, line numbers (or files) and messages of skipped rows
"""

from __future__ import annotations

import json
import logging
import os
import time

import numpy as np

from logreg.data.faces.feature_kinds import Concatenation
from logreg.data.faces.fer_format import CLASS_NAMES, IMAGE_SHAPE
from logreg.data.faces.images import (
    RawFaces,
    is_image_store,
    load_fer2013,
    load_images,
    read_source,
    stratified_split,
)
from logreg.data.faces.normalize import fit_and_normalize, normalize, save_stats
from logreg.data.prepared import SPLITS, PreparedDataset, save_prepared
from logreg.fileio import atomic_dir

log = logging.getLogger(__name__)
__all__ = ["RawFaces", "load_fer2013", "prepare_faces", "read_faces", "stratified_split"]


def read_faces(
    input_path: str | os.PathLike,
    *,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> RawFaces:
    """The parsed image store at ``input_path`` (memory-mapped), or the raw source parsed
    now (:func:`load_fer2013`; the other arguments apply to raw sources only)."""
    if is_image_store(input_path):
        return load_images(input_path)
    return read_source(
        input_path, skip_bad_rows=skip_bad_rows, val_fraction=val_fraction, seed=seed
    )


def prepare_faces(
    input_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    normalization: str = "per_pixel",
    features: str | Concatenation = "pixels",
    n_threads: int | None = None,
    skip_bad_rows: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
    **params,
) -> PreparedDataset:
    """Featurize and normalize FER2013; write the prepared dataset.

    The feature kinds and the normalization statistics are fitted on the train split only.
    ``out_dir`` is replaced atomically: on any error nothing is written and an earlier
    result stays intact.

    Parameters
    ----------
    input_path : path-like
        A parsed image store (:func:`logreg.data.faces.images.parse_faces`), or a raw
        source (see :func:`load_fer2013`).
    out_dir : path-like
        The prepared dataset directory (e.g. ``results/data/faces/demo/hog``).
    normalization : {"scale", "per_pixel", "per_image"}
        One every kind of ``features`` allows (all but pixels: ``per_pixel``).
    features : str or Concatenation
        A spec of registered kinds (``pixels``, ``hog``, ``kmeans``, ``hog+kmeans``, ...),
        or unfitted kinds (e.g. two k-means scales).
    n_threads : int, optional
        Threads of the kinds that encode in parallel; default: the CPUs this process may use.
    skip_bad_rows, val_fraction, seed
        Raw sources only: see :func:`load_fer2013`.
    **params
        Options per kind name (``hog=HogParams(...)``, ``kmeans=KmeansParams(...)``).

    Returns
    -------
    PreparedDataset
        What was written (in memory, not memory-mapped).
    """
    started = time.perf_counter()
    raw = read_faces(input_path, skip_bad_rows=skip_bad_rows, val_fraction=val_fraction, seed=seed)
    featurized = time.perf_counter()
    stats, X_train = fit_and_normalize(
        raw.pixels["train"], normalization, features, n_threads, **params
    )
    X = {
        split: X_train if split == "train" else normalize(raw.pixels[split], stats, n_threads)
        for split in SPLITS
    }
    feature_seconds = time.perf_counter() - featurized
    log.info(
        "%s features (%d per image), %s normalization, in %.1f s",
        stats.features,
        stats.n_features,
        normalization,
        feature_seconds,
    )
    labels = {split: np.asarray(raw.labels[split]) for split in SPLITS}
    for split in SPLITS:
        counts = np.bincount(labels[split], minlength=len(CLASS_NAMES))
        log.info(
            "%s: %d images (%s)",
            split,
            labels[split].size,
            ", ".join(f"{n} {c}" for n, c in zip(CLASS_NAMES, counts)),
        )
    meta = {
        "kind": "faces",
        "name": "fer2013",
        "class_names": list(CLASS_NAMES),
        "image_shape": list(IMAGE_SHAPE),
        "features": stats.features,
        "normalization": normalization,
        # Wall time of features + normalization (all splits): runs log it beside fit_seconds.
        "feature_seconds": round(feature_seconds, 2),
        "source_files": raw.source_files,
        "source_format": raw.source_format,
        "split_sizes": {split: int(labels[split].size) for split in SPLITS},
        "skipped_rows": {
            "count": raw.skipped["count"],
            "lines": raw.skipped["lines"],
            "files": raw.skipped["files"],
        },
        **stats.transform.meta(),
    }
    if raw.source_format == "image_folders":
        meta.update(val_fraction=raw.val_fraction, seed=raw.seed)
    dataset = PreparedDataset(X=X, y=labels, meta=meta)
    with atomic_dir(out_dir) as tmp:
        # save_prepared swaps its own complete directory in for `tmp`; the extra files
        # then join it, and the whole is swapped in for out_dir at once.
        save_prepared(tmp, dataset)
        save_stats(tmp / "normalization.npz", stats)
        for prefix, part, _ in stats.transform.blocks():
            part.write_files(tmp, prefix)
        (tmp / "skipped_rows.json").write_text(
            json.dumps(raw.skipped, indent=2) + "\n", encoding="utf-8"
        )
    log.info(
        "wrote %s (%s features, %s normalization) in %.1f s",
        out_dir,
        stats.features,
        normalization,
        time.perf_counter() - started,
    )
    return dataset
