"""``python -m logreg.train``: train one model (or a sweep) from the Hydra configs in ``conf/``.

    python -m logreg.train experiment=reviews dataset.domain=electronics penalty.l2=0.01
    python -m logreg.train -m penalty.l2=0.001,0.01,0.1 optimizer=gd,minibatch

A thin entry point: the run itself is :func:`logreg.experiment.run.train`.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from logreg.errors import UserError
from logreg.experiment.config import CONF_DIR, register_configs
from logreg.experiment.run import train
from logreg.experiment.sweep import read_parent_run_id
from logreg.linear.exceptions import TrainingDivergedError

log = logging.getLogger("logreg.train")

register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the validation loss for sweepers that minimize it."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        # A sweep job: a child of the sweep's parent MLflow run (see logreg.experiment.sweep).
        cfg.tracking.parent_run_id = read_parent_run_id(hydra_cfg.sweep.dir)
        cfg.source = f"sweep:{hydra_cfg.sweep.dir}:{hydra_cfg.job.num}"
    try:
        row = train(cfg, hydra_cfg.runtime.output_dir)
    except (UserError, TrainingDivergedError) as exc:
        # Bad input or settings the user can fix: one line, no traceback.
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc or 'Ctrl-C'}; the MLflow run is marked KILLED", file=sys.stderr)
        sys.exit(130)
    return float(row["val_loss"])


if __name__ == "__main__":
    main()
