"""``python -m logreg.train``: train one model (or a sweep) from the Hydra configs in ``conf/``.

    python -m logreg.train experiment=reviews dataset.domain=electronics penalty.l2=0.01
    python -m logreg.train -m penalty.l2=0.001,0.01,0.1 optimizer=gd,minibatch

A thin entry point: the run itself is :func:`logreg.experiment.run.train`.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from logreg.cli import interrupt_reason
from logreg.errors import UserError
from logreg.experiment.config import (
    CONF_DIR,
    check_overrides,
    default_run_name,
    register_configs,
)
from logreg.experiment.run import train
from logreg.experiment.sweep import job_failed, job_label, read_parent_run_id
from logreg.linear.exceptions import TrainingDivergedError

log = logging.getLogger("logreg.train")

register_configs()

HYDRA_FILES = {".hydra", "train.log"}


def _remove_if_only_hydra_files(output_dir: Path, results_dir: Path) -> None:
    """A run that failed before any work leaves no folder: Hydra made it (and wrote its
    own files) before the config could be checked. A folder with anything else stays."""
    if output_dir.is_dir() and {p.name for p in output_dir.iterdir()} <= HYDRA_FILES:
        logging.shutdown()  # release train.log
        shutil.rmtree(output_dir, ignore_errors=True)
        root, parent = results_dir.resolve(), output_dir.resolve().parent
        while root in parent.parents and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _interrupted(exc: KeyboardInterrupt, cfg: DictConfig, hydra_cfg, output_dir: Path) -> str:
    """The one line after Ctrl-C or SIGTERM: why, what stopped, what MLflow records."""
    if hydra_cfg.mode == RunMode.MULTIRUN:
        what = f"the sweep stopped in job {job_label(hydra_cfg.job)}"
        runs = "; the sweep's and the job's MLflow runs are marked KILLED"
    else:
        cwd = Path.cwd()
        folder = output_dir.relative_to(cwd) if output_dir.is_relative_to(cwd) else output_dir
        what = f"the training run in {folder} stopped before it finished"
        runs = "; its MLflow run is marked KILLED"
    return f"{interrupt_reason(exc)}: {what}{runs if cfg.tracking.enabled else ''}"


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the validation loss for sweepers that minimize it."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # A sweep job: a child of the sweep's parent MLflow run (see logreg.experiment.sweep).
        cfg.tracking.parent_run_id = read_parent_run_id(hydra_cfg.sweep.dir)
        cfg.source = f"sweep:{hydra_cfg.sweep.dir}:{hydra_cfg.job.num}"
    if cfg.tracking.get("run_name", "missing") is None:
        cfg.tracking.run_name = default_run_name(cfg, hydra_cfg.job.override_dirname)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # What differs first (the job's overrides), as its folder and errors name it.
            cfg.tracking.run_name = f"{job_label(hydra_cfg.job)} ({default_run_name(cfg)})"
    output_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        check_overrides(cfg, list(hydra_cfg.overrides.task))
        row = train(cfg, output_dir)
    except (UserError, TrainingDivergedError) as exc:
        # Bad input or settings the user can fix: one line, no traceback.
        _remove_if_only_hydra_files(output_dir, Path(cfg.paths.results_dir))
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # Not an exit: Hydra marks the job failed and runs the rest of the batch; the
            # sweep callback prints the job's line and names it on the sweep's MLflow run.
            raise job_failed(hydra_cfg.job, cfg.tracking.parent_run_id) from exc
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        print(_interrupted(exc, cfg, hydra_cfg, output_dir), file=sys.stderr)
        sys.exit(130)
    return float(row["val_loss"])


def composition_error(argv: list[str]) -> str | None:
    """One line for overrides that do not compose (an unknown key or group option, a wrong
    type), or None. Hydra would print several lines and advise ``+key=value``, which
    adds a key nothing reads; a sweep (``-m``) is left to Hydra, which expands it first."""
    if any(arg in ("-m", "--multirun") for arg in argv) or any(arg.startswith("-") for arg in argv):
        return None
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from logreg.experiment.config import compose, composition_problem

    overrides = [arg for arg in argv if not arg.lstrip("+~").startswith("hydra")]
    try:
        compose(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        return composition_problem(exc)
    return None


def cli() -> None:
    """``python -m logreg.train``: overrides that do not compose stop in one line (exit 2)."""
    if (problem := composition_error(sys.argv[1:])) is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
