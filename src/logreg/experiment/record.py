"""What a run records so that it can be rerun and checked: ``provenance.json``.

Written into the run folder beside ``config.yaml`` (so it is also uploaded as an MLflow
artifact), before the fit. It holds what the config does not:

- ``git_commit``, ``git_dirty`` (as the MLflow tags) and ``git_diff_sha256``, the digest
  of the uncommitted changes: a dirty tree is the same code only with the same changes;
- ``source_files``: the raw files the data was prepared from and their sha256, as the
  data stage recorded them (``meta.json``);
- ``data_files``: the sha256 of every file the run read from the prepared folder (and,
  for cross-validated reviews, of the reviews table beside it): the prepared data can
  change (other text options, other code) while the raw files stay the same;
- ``versions``: Python and the main packages;
- ``blas``: the BLAS library (name, version, CPU kernels) and ``blas_threads``, the number
  of threads it ran on: a dense matrix product sums in another order on another number of
  threads, and the last bits of the weights follow (the workflow runs each job on one
  thread, ``python -m logreg.train`` on every core).

:mod:`logreg.experiment.reproduce` reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig
from threadpoolctl import threadpool_info

from logreg.experiment.text_features import reviews_table_path
from logreg.fileio import sha256_file, write_text_atomic
from logreg.provenance import git_diff_sha256, git_state, package_versions

PROVENANCE = "provenance.json"


def data_files(cfg: DictConfig) -> list[Path]:
    """The files of prepared data a run with ``cfg`` reads, by the paths the config gives."""
    if cfg.dataset.kind == "gaussian_clouds" or not cfg.dataset.path:
        return []  # drawn from the seed
    folder = Path(cfg.dataset.path)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    table = reviews_table_path(folder)
    if cfg.dataset.kind == "reviews" and cfg.evaluation.name == "cv" and table.is_file():
        files.append(table)  # the per-fold features are built from it
    return files


def blas() -> tuple[list[str], int]:
    """The loaded BLAS libraries (``<name> <version> <kernels>``) and the threads they use."""
    libraries = [info for info in threadpool_info() if info["user_api"] == "blas"]
    names = [
        " ".join(str(info.get(key)) for key in ("internal_api", "version", "architecture"))
        for info in libraries
    ]
    return names, max((info["num_threads"] for info in libraries), default=1)


def write_provenance(output_dir: Path, cfg: DictConfig, dataset_meta: dict) -> None:
    """Write ``output_dir/provenance.json`` for the run ``cfg`` on data ``dataset_meta``."""
    record = {
        **git_state(),
        "git_diff_sha256": git_diff_sha256(),
        "source_files": dict(dataset_meta.get("source_files", {})),
        "data_files": {os.fspath(p): sha256_file(p) for p in data_files(cfg)},
        "versions": package_versions(),
    }
    record["blas"], record["blas_threads"] = blas()
    write_text_atomic(Path(output_dir) / PROVENANCE, json.dumps(record, indent=2) + "\n")
