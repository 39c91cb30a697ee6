"""Hydra multirun -> one MLflow parent run per sweep, one child run per job.

Registered in ``conf/train.yaml`` under ``hydra.callbacks``. The parent run is created
before any job starts (which also creates the tracking store once, before parallel jobs
race to migrate it); its id is written into the sweep folder, where each job (in this
process or a launcher's worker process) reads it. At the end the parent records the best
child by validation loss, and every child is tagged ``indistinguishable_from_best``
(true/false) when the jobs can be paired (same CV folds or the same test set).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)
PARENT_FILE = "mlflow_parent_run_id"


def parent_run_file(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / PARENT_FILE


def read_parent_run_id(sweep_dir: str | Path) -> str | None:
    path = parent_run_file(sweep_dir)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


class MlflowSweepCallback(Callback):
    """Opens the sweep's parent run and closes it with the best child's metric."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from logreg.experiment.tracking import Tracker
        from logreg.fileio import write_text_atomic

        overrides = list(config.hydra.overrides.task)
        tracker = Tracker(
            config.tracking.uri,
            config.tracking.experiment,
            f"sweep {config.experiment_name} {config.dataset.name}",
            {
                "source": "sweep",
                "sweep_dir": config.hydra.sweep.dir,
                "experiment": config.experiment_name,
                "dataset": config.dataset.name,
                "data.source": config.dataset.source,
                "mlflow.source.type": "LOCAL",
                "mlflow.source.name": "python -m logreg.train -m",
            },
            retries=config.tracking.retries,
        )
        tracker.log_params(
            {
                "sweep.overrides": " ".join(overrides),
                "sweep.sweeper": config.hydra.sweeper.get("_target_", ""),
                "sweep.launcher": config.hydra.launcher.get("_target_", ""),
            }
        )
        write_text_atomic(parent_run_file(config.hydra.sweep.dir), tracker.run_id)
        log.info("sweep parent MLflow run %s", tracker.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        parent_id = read_parent_run_id(config.hydra.sweep.dir)
        if not config.tracking.enabled or parent_id is None:
            return
        from logreg.experiment.tracking import MlflowClient, with_retries

        client = MlflowClient(tracking_uri=config.tracking.uri)
        uri, retries = config.tracking.uri, config.tracking.retries
        parent = with_retries(
            lambda: client.get_run(parent_id), what="read the sweep run", uri=uri, retries=retries
        )
        children = with_retries(
            lambda: client.search_runs(
                [parent.info.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
                order_by=["metrics.val_loss ASC"],
            ),
            what="find the sweep's runs",
            uri=uri,
            retries=retries,
        )
        finished = [
            r for r in children if r.info.status == "FINISHED" and "val_loss" in r.data.metrics
        ]

        def record() -> None:
            client.set_tag(parent_id, "n_children", str(len(children)))
            if finished:
                best = finished[0]
                client.set_tag(parent_id, "best_run_id", best.info.run_id)
                client.set_tag(parent_id, "best_run_name", best.info.run_name or "")
                client.log_metric(parent_id, "best_val_loss", best.data.metrics["val_loss"])
                client.log_metric(
                    parent_id,
                    "best_val_accuracy",
                    best.data.metrics.get("val_accuracy", float("nan")),
                )
            ties = _ties(config.hydra.sweep.dir)
            for run_id, tied in ties.items():
                client.set_tag(run_id, "indistinguishable_from_best", str(tied).lower())
            if ties:
                tied_ids = ",".join(run_id for run_id, tied in ties.items() if tied)
                client.set_tag(parent_id, "indistinguishable_from_best", tied_ids)
            client.set_terminated(parent_id, status="FINISHED")

        with_retries(record, what="record the sweep's best run", uri=uri, retries=retries)
        if finished:
            log.info(
                "best run of the sweep: %s (val_loss %.4f)",
                finished[0].info.run_id,
                finished[0].data.metrics["val_loss"],
            )


def _ties(sweep_dir: str | Path) -> dict[str, bool]:
    """MLflow run id -> whether that job's test accuracy is not distinguishable from the
    best job's (paired on the same CV folds or test set; see
    :func:`logreg.experiment.compare.mark_ties`). Jobs that cannot be paired are left out."""
    import json

    from logreg.experiment.compare import mark_ties

    folders = sorted(p.parent for p in Path(sweep_dir).glob("*/metrics.json"))
    ties = {}
    for folder, tied in mark_ties(folders).items():
        run_id = json.loads((folder / "metrics.json").read_text(encoding="utf-8")).get(
            "mlflow_run_id"
        )
        if run_id and tied is not None:
            ties[run_id] = bool(tied)
    return ties
