"""Hydra's records of a run, with paths relative to the working folder.

Hydra saves ``<run folder>/.hydra/hydra.yaml`` (and a sweep's ``multirun.yaml``) with the
absolute paths of the machine and folder it ran in: ``hydra.runtime.cwd``,
``hydra.runtime.output_dir`` and the config folder among ``hydra.runtime.config_sources``.
Those files are part of the results folder (and of each run's MLflow artifacts), so a
moved, copied or archived results folder would keep naming its old place. This callback
(registered in ``conf/train.yaml`` under ``hydra.callbacks``) rewrites them relative to the
working folder, as the run's own ``config.yaml`` already is: ``cwd: .``,
``output_dir: results/runs/...``, ``path: conf``. A path outside the working folder is kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from logreg.fileio import write_text_atomic


def _relative(path: str, cwd: Path) -> str:
    absolute = Path(path)
    if not absolute.is_absolute() or not absolute.is_relative_to(cwd):
        return path
    return os.path.relpath(absolute, cwd)


def relativize(record: Path, cwd: Path) -> None:
    """Rewrite the runtime paths of the Hydra record ``record`` relative to ``cwd``."""
    if not record.is_file():
        return
    saved = OmegaConf.load(record)
    runtime = OmegaConf.select(saved, "hydra.runtime")
    if not isinstance(runtime, DictConfig):
        return
    for key in ("cwd", "output_dir"):
        if key in runtime and not OmegaConf.is_missing(runtime, key):
            if isinstance(value := runtime[key], str):
                runtime[key] = _relative(value, cwd)
    for source in runtime.get("config_sources") or []:
        if source.get("schema") == "file" and isinstance(source.get("path"), str):
            source.path = _relative(source.path, cwd)
    write_text_atomic(record, OmegaConf.to_yaml(saved))


class RelativeHydraRecords(Callback):
    """Rewrite a job's ``hydra.yaml`` once Hydra saved it (before the task runs, so the
    run's MLflow artifacts get the rewritten copy), and a sweep's ``multirun.yaml``."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.output_subdir is None:
            return
        folder = Path(config.hydra.runtime.output_dir) / config.hydra.output_subdir
        relativize(folder / "hydra.yaml", Path(config.hydra.runtime.cwd))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        relativize(Path(config.hydra.sweep.dir) / "multirun.yaml", Path.cwd())
