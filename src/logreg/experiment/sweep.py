"""Hydra multirun -> one MLflow parent run per sweep, one child run per job.

Registered in ``conf/train.yaml`` under ``hydra.callbacks``. The parent run is created
before any job starts (which also creates the tracking store once, before parallel jobs
race to migrate it); its id is written into the sweep folder, where each job (in this
process or a launcher's worker process) reads it. At the end the parent records the best
child by validation loss, and every child is tagged ``indistinguishable_from_best``
(true/false) when the jobs can be paired (same CV folds or the same test set).

A sweep never leaves its parent RUNNING. A job that fails prints one line and is noted on
the parent (a ``failed_job.<num>`` tag, written from whichever process ran the job); Hydra
runs the rest of the batch and then stops the sweep. Hydra calls no callback when a
sweep stops (a failed job, Ctrl-C, SIGTERM), so the process that opened the parent closes
it at exit: FAILED with the failed jobs in ``failed_children``, or KILLED with the reason
in ``error``. A sweep whose sweeper tolerates failures (Optuna's ``max_failure_rate``)
ends FINISHED, its failed jobs still listed in ``failed_children``.
"""

from __future__ import annotations

import atexit
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from logreg.cli import signal_reason
from logreg.experiment.tracking import NOTE

log = logging.getLogger(__name__)
PARENT_FILE = "mlflow_parent_run_id"
FAILED_JOB_TAG = "failed_job."  # + job number: one tag per failed job while the sweep runs
MAX_TAG_LENGTH = 5000  # MLflow keeps tag values up to 8,000 characters (sqlite store)


def parent_run_file(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / PARENT_FILE


def read_parent_run_id(sweep_dir: str | Path) -> str | None:
    path = parent_run_file(sweep_dir)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def job_label(hydra_job: DictConfig) -> str:
    """``#<num> <overrides>``: a sweep job as its folder and MLflow run name show it."""
    overrides = hydra_job.override_dirname
    return f"#{hydra_job.num} {overrides}" if overrides else f"#{hydra_job.num}"


class SweepJobError(CompactHydraException):
    """A sweep job stopped by an error the user can fix (its one line is already printed).

    Raised instead of exiting, so Hydra records the job as failed and runs the rest of
    its batch; at the end Hydra prints this message without a traceback.
    """


def job_failed(hydra_job: DictConfig, parent_run_id: str | None) -> SweepJobError:
    """The error a sweep job raises after a user error (see :class:`SweepJobError`)."""
    where = ""
    if parent_run_id:
        where = f"; MLflow run {parent_run_id} lists the sweep's failed jobs (tag failed_children)"
    return SweepJobError(f"sweep job #{hydra_job.num} failed (error above){where}")


def _one_line(error: BaseException) -> str:
    """A job's error as one line: a user error's own message, else its type and first line."""
    if isinstance(error, SweepJobError) and error.__cause__ is not None:
        return str(error.__cause__)
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def swept_keys(config: DictConfig) -> list[str]:
    """The keys a sweep varies: overrides with several values (``penalty.l2=0.1,1``,
    ``optimizer=gd,minibatch``, ``range(...)``...), and a search sweeper's ``params``."""
    keys = []
    for item in config.hydra.overrides.task:
        key, _, value = item.partition("=")
        if "," in value or value.startswith(("range(", "choice(", "interval(", "glob(")):
            keys.append(key.lstrip("+~"))
    params = config.hydra.sweeper.get("params") or {}
    return keys + [k for k in params if k not in keys]


def _plan(config: DictConfig) -> str:
    overrides = " ".join(config.hydra.overrides.task)
    return (
        f"Sweep of **{config.experiment_name}** on **{config.dataset.name}** over "
        f"`{overrides}`: one child run per job."
    )


def _is_sweep_job(config: DictConfig) -> bool:
    # Hydra calls on_job_end for single runs too; they have no parent run.
    return config.hydra.mode == RunMode.MULTIRUN


class MlflowSweepCallback(Callback):
    """Opens the sweep's parent run and closes it: FINISHED with the best child's metric,
    FAILED naming the failed jobs, or KILLED with the reason."""

    def __init__(self) -> None:
        self._open: DictConfig | None = None  # the sweep whose parent this process must close
        self._job: str | None = None  # the job running in this process (for a KILLED reason)
        self._reason: str | None = None  # set by the signal handler
        self._handlers: dict[int, Any] = {}

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
                NOTE: _plan(config),
            },
            retries=config.tracking.retries,
        )
        write_text_atomic(parent_run_file(config.hydra.sweep.dir), tracker.run_id)
        self._open = config
        # From here on the parent is closed at exit, whatever stops the sweep.
        atexit.register(self._close_at_exit)
        self._handlers = {
            signum: signal.signal(signum, self._interrupt)
            for signum in (signal.SIGINT, signal.SIGTERM)
            # An ignored signal stays ignored (a background job of a script ignores Ctrl-C).
            if signal.getsignal(signum) != signal.SIG_IGN
        }
        tracker.log_params(
            {
                "sweep.overrides": " ".join(overrides),
                "sweep.sweeper": config.hydra.sweeper.get("_target_", ""),
                "sweep.launcher": config.hydra.launcher.get("_target_", ""),
            }
        )
        log.info("sweep parent MLflow run %s", tracker.run_id)

    def _interrupt(self, signum: int, frame: Any) -> None:
        # Ctrl-C or SIGTERM: stop like Ctrl-C does, remembering why for the parent's tag.
        self._reason = signal_reason(signum)
        raise KeyboardInterrupt(self._reason)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _is_sweep_job(config):
            self._job = job_label(config.hydra.job)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """A failed job: one line on stderr, and a ``failed_job.<num>`` tag on the parent."""
        self._job = None
        if not _is_sweep_job(config) or job_return.status != JobStatus.FAILED:
            return
        # The exception itself: JobReturn.return_value would print and raise it.
        line = f"{job_label(config.hydra.job)}: {_one_line(job_return._return_value)}"
        print(f"error: sweep job {line}", file=sys.stderr, flush=True)
        parent_id = read_parent_run_id(config.hydra.sweep.dir)
        if not config.tracking.enabled or parent_id is None:
            return
        from logreg.experiment.tracking import MlflowClient, with_retries

        client = MlflowClient(tracking_uri=config.tracking.uri)
        with_retries(
            lambda: client.set_tag(
                parent_id, f"{FAILED_JOB_TAG}{config.hydra.job.num}", line[:MAX_TAG_LENGTH]
            ),
            what="note the failed job on the sweep's run",
            uri=config.tracking.uri,
            retries=config.tracking.retries,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._open = None  # the sweep ran to its end: nothing left to close at exit
        atexit.unregister(self._close_at_exit)
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        parent_id = read_parent_run_id(config.hydra.sweep.dir)
        if not config.tracking.enabled or parent_id is None:
            return
        best = _close_parent(config, parent_id, stopped=False)
        if best is not None:
            log.info(
                "best run of the sweep: %s (val_loss %.4f)",
                best.info.run_id,
                best.data.metrics["val_loss"],
            )
        from logreg.experiment import views

        base = views.ui_base(config.tracking.uri)
        experiment_id = best.info.experiment_id if best is not None else None
        if experiment_id is not None:
            log.info(
                "compare the sweep's jobs%s: %s",
                " (make ui)" if base == views.MAKE_UI else "",
                views.experiment_url(base, experiment_id, views.sweep_key(parent_id), True),
            )

    def _close_at_exit(self) -> None:
        """Close the parent of a sweep that stopped before its end (Hydra calls no callback
        then): KILLED after a signal, FAILED otherwise."""
        config, self._open = self._open, None
        if config is None:
            return
        # A second Ctrl-C must not leave the run half-closed; this takes well under a second.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        parent_id = read_parent_run_id(config.hydra.sweep.dir)
        if parent_id is None:
            return
        try:
            _close_parent(config, parent_id, stopped=True, reason=self._reason, job=self._job)
        except Exception as exc:  # exiting: say so, never mask the sweep's own error
            print(f"warning: could not close the sweep's MLflow run: {exc}", file=sys.stderr)


def _close_parent(
    config: DictConfig,
    parent_id: str,
    *,
    stopped: bool,
    reason: str | None = None,
    job: str | None = None,
):
    """End the parent run; returns the best finished child (by val_loss), if any.

    A sweep that ran to its end (``stopped=False``) is FINISHED with its best child and
    ties. One that ``stopped`` is KILLED when it was interrupted (``reason``, from this
    process's signal handler, or a child run that was killed: a job's own SIGTERM
    handler), else FAILED; children its processes left RUNNING are marked KILLED. Either
    way the ``failed_job.<num>`` tags become one ``failed_children`` tag, each job with
    its MLflow run when it had started one.
    """
    from mlflow.entities import RunTag

    from logreg.experiment import views
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
    finished = [r for r in children if r.info.status == "FINISHED" and "val_loss" in r.data.metrics]
    # A job's child run carries source sweep:<dir>:<num> (logreg.train).
    job_of = {r.info.run_id: r.data.tags.get("source", "").rsplit(":", 1)[-1] for r in children}
    noted = {k: v for k, v in parent.data.tags.items() if k.startswith(FAILED_JOB_TAG)}
    failed = []
    for key in sorted(noted, key=lambda k: int(k[len(FAILED_JOB_TAG) :])):
        runs = [run_id for run_id, num in job_of.items() if FAILED_JOB_TAG + num == key]
        failed.append(noted[key] + (f" (MLflow run {runs[0]})" if runs else ""))

    status, error = "FINISHED", None
    if stopped:
        killed = [r for r in children if r.info.status == "KILLED"]
        if reason is None and killed:
            reason = killed[0].data.tags.get("error") or "a job was killed"
            job = job or f"#{job_of[killed[0].info.run_id]}"
        if reason is not None:
            status, error = "KILLED", f"{reason} in job {job}" if job else reason
        else:
            status, error = "FAILED", "the sweep stopped before its end"
            if failed:
                jobs = f"{len(failed)} job{'s' if len(failed) > 1 else ''}"
                error = f"{jobs} of the sweep failed (tag failed_children)"

    view_key = views.sweep_key(parent_id)
    if not stopped:
        try:  # the comparison view is a convenience: the parent is closed whatever happens
            views.refresh_sweep(client, parent.info.experiment_id, parent_id, swept_keys(config))
        except Exception as exc:
            log.warning("could not write the sweep's comparison view: %s", exc)

    def record() -> None:
        tags = {"n_children": str(len(children))}
        if failed:
            tags["failed_children"] = "; ".join(failed)[:MAX_TAG_LENGTH]
        if error:
            tags["error"] = error[:MAX_TAG_LENGTH]
            tags[NOTE] = f"**{status}**: {error[:MAX_TAG_LENGTH]}\n\n{_plan(config)}"
        if stopped:
            for child in children:
                if child.info.status == "RUNNING":  # its process died without closing it
                    client.set_tag(child.info.run_id, "error", f"the sweep stopped: {error}")
                    client.set_terminated(child.info.run_id, status="KILLED")
        else:
            tags[NOTE] = _summary(config, parent.info.experiment_id, view_key, finished, failed)
            if finished:
                best = finished[0]
                tags.update(best_run_id=best.info.run_id, best_run_name=best.info.run_name or "")
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
                tags["indistinguishable_from_best"] = ",".join(
                    run_id for run_id, tied in ties.items() if tied
                )
        client.log_batch(parent_id, tags=[RunTag(k, v) for k, v in sorted(tags.items())])
        for key in noted:  # now in failed_children
            client.delete_tag(parent_id, key)
        client.set_terminated(parent_id, status=status)

    with_retries(record, what=f"mark the sweep's run {status}", uri=uri, retries=retries)
    return finished[0] if finished else None


def _summary(config: DictConfig, experiment_id: str, key: str, finished, failed) -> str:
    """The parent's description: how many jobs, the best, the link to compare them."""
    from logreg.experiment import views

    view = views.experiment_url("", experiment_id, key)
    done = f"{len(finished)} finished" + (
        f", {len(failed)} failed (tag failed_children)" if failed else ""
    )
    lines = [
        f"{_plan(config)} {done}. [Compare the jobs: the swept parameters against accuracy]"
        f"({view}&compareRunsMode=CHART) · [as a table]({view})"
    ]
    if finished:
        best = finished[0]
        m = best.data.metrics
        answer = (
            f": accuracy {m['accuracy']:.4f} [{m['accuracy_ci_low']:.4f}, "
            f"{m['accuracy_ci_high']:.4f}]"
            if {"accuracy", "accuracy_ci_low", "accuracy_ci_high"} <= set(m)
            else ""
        )
        lines.append(f"**Best by validation loss**: {best.info.run_name}{answer}.")
    return "\n\n".join(lines)


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
