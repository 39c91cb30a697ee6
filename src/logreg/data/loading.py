"""The examples a training run sees, whatever their source.

A prepared dataset folder (reviews, faces) is loaded as written by the workflow; the
two-Gaussian-clouds problem is drawn from the run's seed. ``dataset.classes`` keeps a
subset of classes (e.g. Happy vs Sad), relabelled 0..k-1 in the order given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from logreg.data.gaussian_clouds import make_gaussian_clouds
from logreg.data.prepared import SPLITS, PreparedDataset, load_prepared
from logreg.errors import ConfigError


def load_dataset(cfg: DictConfig, rng: np.random.Generator) -> PreparedDataset:
    """Load or generate the dataset described by the ``dataset`` config group."""
    if cfg.kind == "gaussian_clouds":
        return _gaussian_clouds(cfg, rng)
    if not Path(cfg.path, "meta.json").is_file():
        raise _missing_prepared(cfg)
    dataset = load_prepared(cfg.path, stream_above_mb=cfg.get("stream_above_mb"))
    # Folders written before the data stages stopped listing which review each row is
    # (split.parquet says it): never read by a run, 10^6 of them at 10^6 reviews.
    dataset.meta.pop("row_ids", None)
    if cfg.kind == "faces":
        # Folders written before HOG existed hold pixels.
        written = dataset.meta.get("features", "pixels")
        if written != cfg.features:
            raise ConfigError(
                "dataset.features",
                f"got {cfg.features!r}, but {cfg.path} holds {written!r} "
                f"features; set dataset.features={written} or point "
                f"dataset.path at a folder prepared with {cfg.features!r}",
            )
    if cfg.classes is not None:
        dataset = _keep_classes(dataset, list(cfg.classes))
    return dataset


def _missing_prepared(cfg: DictConfig) -> ConfigError:
    """Name the key to change and the prepared data that exists, e.g. after a typo in a
    domain name, rather than ask for a data stage that would not help."""
    # <results>/data/<kind>/<source>/<domain>/prepared or <results>/data/faces/<source>/<features>
    source_dir = Path(cfg.path).parents[1 if cfg.kind == "reviews" else 0]
    kind_dir = source_dir.parent
    if cfg.kind == "reviews":
        key, value = "dataset.domain", cfg.domain
        found = sorted(p.parents[1].name for p in source_dir.glob("*/prepared/meta.json"))
    else:
        key, value = "dataset.features", cfg.features
        found = sorted(p.parent.name for p in source_dir.glob("*/meta.json"))
    if not found:
        sources = sorted(p.name for p in kind_dir.iterdir()) if kind_dir.is_dir() else []
        return ConfigError(
            "dataset.source",
            f"got {cfg.source!r}: no prepared {cfg.kind} data in {source_dir}; "
            + (f"prepared sources: {', '.join(sources)}" if sources else "none is prepared")
            + " (the workflow prepares them: make run, or snakemake with this source)",
        )
    return ConfigError(
        key,
        f"got {value!r}: no prepared data at {cfg.path}; prepared for source "
        f"{cfg.source!r}: {', '.join(found)}",
    )


def _gaussian_clouds(cfg: DictConfig, rng: np.random.Generator) -> PreparedDataset:
    if cfg.n_samples < 4:
        raise ConfigError("dataset.n_samples", f"got {cfg.n_samples}, expected >= 4")
    if not 0 < cfg.p1 < 1:
        raise ConfigError("dataset.p1", f"got {cfg.p1}, expected 0 < p1 < 1")
    sizes = {"train": cfg.n_samples, "val": cfg.n_samples // 2, "test": cfg.n_samples // 2}
    X, y = {}, {}
    for split in SPLITS:
        X[split], y[split] = make_gaussian_clouds(
            sizes[split], rng, mean0=list(cfg.mean0), mean1=list(cfg.mean1), p1=cfg.p1
        )
    meta = {
        "kind": "gaussian_clouds",
        "name": cfg.name,
        "class_names": ["0", "1"],
        "feature_names": [f"x{i + 1}" for i in range(X["train"].shape[1])],
        "source_files": {},
    }
    return PreparedDataset(X=X, y=y, meta=meta)


def _keep_classes(dataset: PreparedDataset, classes: list[int]) -> PreparedDataset:
    names = dataset.class_names
    bad = [c for c in classes if not 0 <= c < len(names)]
    if bad or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ConfigError(
            "dataset.classes",
            f"got {classes}, expected at least 2 distinct class indices in "
            f"0..{len(names) - 1} ({', '.join(names)})",
        )
    relabel = np.full(len(names), -1, dtype=np.int64)
    relabel[classes] = np.arange(len(classes))
    X, y = {}, {}
    for split in SPLITS:
        keep = np.flatnonzero(relabel[dataset.y[split]] >= 0)
        X[split] = dataset.X[split][keep]
        y[split] = relabel[dataset.y[split][keep]]
    meta = dict(dataset.meta, class_names=[names[c] for c in classes])
    return PreparedDataset(X=X, y=y, meta=meta)
