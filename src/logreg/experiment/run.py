"""One training run: fit the configured model, evaluate it, write its folder, track it.

:func:`train` is the importable core that ``python -m logreg.train`` (the thin Hydra entry
point in :mod:`logreg.train`) and the tests call with a composed config.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from logreg.cli import interrupt_reason
from logreg.data.loading import load_dataset
from logreg.data.prepared import recorded_options
from logreg.errors import ConfigError
from logreg.experiment import evaluation, headline, protocol, record, tracking, views
from logreg.experiment.config import (
    applicable_params,
    build_estimator,
    check_config,
    config_error,
    data_label,
    default_run_name,
    penalty_name,
)
from logreg.fileio import write_text_atomic
from logreg.linear.exceptions import InvalidParameterError
from logreg.provenance import batch_job, git_state, package_versions
from logreg.serving import pyfunc_model

log = logging.getLogger(__name__)


def _check_n_classes(cfg: DictConfig, n_classes: int) -> None:
    if cfg.model.name == "logistic" and n_classes != 2:
        raise ConfigError(
            "model",
            f"'logistic' is binary but the dataset has {n_classes} "
            "classes; use model=softmax or dataset.classes=[a,b]",
        )


def _start_tracker(cfg: DictConfig, dataset_meta: dict) -> tracking.Tracker | None:
    if not cfg.tracking.enabled:
        return None
    source_files = dataset_meta.get("source_files", {})
    git = git_state()
    tags = {
        **git,
        **batch_job(),
        **{f"version.{k}": v for k, v in package_versions().items()},
        **{f"data_sha256.{Path(p).name}": h for p, h in source_files.items()},
        "source": cfg.source,
        "seed": str(cfg.seed),
        "experiment": cfg.experiment_name,
        "dataset": cfg.dataset.name,
        "data.source": cfg.dataset.source,
        "model": cfg.model.name,
        "penalty": penalty_name(cfg.penalty),
        # The runs table's "Source" column.
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": "python -m logreg.train",
        tracking.NOTE: views.plan_description(cfg),
    }
    if git["git_commit"] != "unknown":
        tags["mlflow.source.git.commit"] = git["git_commit"]
    return tracking.Tracker(
        cfg.tracking.uri,
        cfg.tracking.experiment,
        cfg.tracking.run_name or default_run_name(cfg),
        tags,
        retries=cfg.tracking.retries,
        parent_run_id=cfg.tracking.parent_run_id,
    )


def _log_run(
    tracker: tracking.Tracker,
    cfg: DictConfig,
    estimator,
    dataset,
    output_dir: Path,
    row: dict,
    series: list[tuple[str, float, int]],
) -> None:
    """Metrics, series, files and the served model, in batches; adds the ids to ``row``.

    Runs after every file is written, so a store failing here loses no work: the error
    says where the files are.
    """
    try:
        # The headline first: the run page lists metrics in the order they were logged,
        # and the compare page plots the first metric the runs share.
        numbers = {
            k: v
            for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("data.")
        }
        lead = headline.mlflow_metrics(row)
        rest = [k for k in numbers if k not in (*headline.SCORES, *headline.PENALTIES)]
        tracker.log_metrics((k, numbers[k], 0) for k in [*lead, *rest])
        tracker.log_metrics(series)
        tracker.log_history(estimator.history_)
        tracker.log_artifacts(output_dir)
        model_started = time.perf_counter()
        row["model_uri"] = tracker.retry(
            lambda: pyfunc_model.log_model(
                tracker.run_id,
                cfg.tracking.uri,
                output_dir,
                dataset.meta["kind"],
                cfg.dataset.path,
                dataset.meta.get("feature_names"),
            ),
            "log the model",
        )
    except tracking.TrackingError as exc:
        raise tracking.TrackingError(
            f"{exc}; the trained model and its files are in {output_dir}"
        ) from exc
    row["mlflow_run_id"] = tracker.run_id
    row["model_logging_seconds"] = time.perf_counter() - model_started
    _describe(tracker, cfg, row, output_dir)
    row["tracking_seconds"] = tracker.seconds


def _describe(tracker: tracking.Tracker, cfg: DictConfig, row: dict, output_dir: Path) -> None:
    """The run's description (its answer first), its experiment's view, and the links."""
    folder = os.path.relpath(output_dir)  # the store names no absolute path
    tracker.describe(views.run_description(row, cfg, folder))
    try:
        # Every run refreshes its experiment's view: the columns are what differs now. One
        # retry (a locked sqlite file); a server may refuse it (another user's experiment).
        tracking.with_retries(
            lambda: views.refresh_experiment(tracker.client, tracker.experiment_id),
            what="refresh the experiment's view",
            uri=cfg.tracking.uri,
            retries=1,
        )
    except tracking.TrackingError as exc:  # the run is complete; its view is a convenience
        log.warning("%s", exc)
    base = views.ui_base(cfg.tracking.uri)
    log.info(
        "MLflow%s: this run %s; its experiment's runs by accuracy %s",
        "" if base != views.MAKE_UI else " (make ui)",
        views.run_url(base, tracker.experiment_id, tracker.run_id),
        views.experiment_url(base, tracker.experiment_id),
    )


def ran_params(row: dict) -> dict[str, object]:
    """MLflow params of what ran (``fit.*``) beside those of the config: the effective
    solver and penalties, how the final fit stopped, and the options the prepared data was
    made with (``data.*``). The iterations are a result (the metric ``n_iter``): as a param
    they would differ between any two runs and crowd what the compare view selects."""
    keys = ("solver", "penalty", "l1", "l2", "converged", "stop_reason")
    fitted = {f"fit.{k}": row[k] for k in keys}
    return {**fitted, **{k: v for k, v in row.items() if k.startswith("data.")}}


def _finish(tracker: tracking.Tracker, error: BaseException | None) -> None:
    """Mark the run FINISHED, FAILED or KILLED. When the run already failed, a store that
    cannot take the status is logged, so the user sees the error that matters first."""
    if isinstance(error, KeyboardInterrupt):
        # Python's own Ctrl-C carries no message: the run's ``error`` tag says why it stopped.
        error = KeyboardInterrupt(interrupt_reason(error))
    try:
        tracker.finish(tracking.status_for(error), error)
    except tracking.TrackingError as exc:
        if error is None:
            raise
        log.warning(
            "could not mark MLflow run %s as %s: %s",
            tracker.run_id,
            tracking.status_for(error),
            exc,
        )


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so the MLflow run is marked KILLED."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train(cfg: DictConfig, output_dir: str | Path) -> dict[str, object]:
    """Fit the configured model, evaluate it, write ``output_dir`` and log to MLflow.

    Returns the summary row that is also written to ``output_dir/metrics.json``: the
    run's identity (experiment, dataset, model, penalty, l1, l2, solver, evaluation), its
    headline (``accuracy`` with ``accuracy_ci_low``/``_high``, ``f1``, ``auc``: see
    :mod:`logreg.experiment.headline`), its metrics on each split (``train_*``, ``val_*``,
    ``test_*``) and its ``mlflow_run_id``.
    ``metrics.json`` is written last, so its presence means the run is complete.
    """
    run_started = time.perf_counter()
    check_config(cfg)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # metrics.json marks a complete run; a rerun in the same folder first withdraws it, so
    # a failure can never leave it describing weights that were since overwritten.
    (output_dir / "metrics.json").unlink(missing_ok=True)
    rng = np.random.default_rng(cfg.seed)
    dataset = load_dataset(cfg.dataset, rng)
    class_names = dataset.class_names
    _check_n_classes(cfg, len(class_names))
    progress = sys.stderr.isatty() if cfg.progress is None else bool(cfg.progress)
    estimator = build_estimator(cfg, verbose=int(progress))
    tracker = _start_tracker(cfg, dataset.meta)
    error: BaseException | None = None
    try:
        with _sigterm_as_interrupt():
            if tracker is not None:
                tracker.log_params(applicable_params(cfg))
                tracker.log_dataset(
                    data_label(cfg),
                    source=cfg.dataset.path or f"generated from seed {cfg.seed}",
                    source_hashes=dataset.meta.get("source_files", {}),
                    profile={split: list(shape) for split, shape in dataset.shapes.items()},
                    options=recorded_options(dataset.meta),
                )
            write_text_atomic(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
            record.write_provenance(output_dir, cfg, dataset.meta)
            log.info(
                "fitting %s on %s: %d training examples, %d features, %d classes",
                type(estimator).__name__,
                cfg.dataset.name,
                *dataset.shapes["train"],
                len(class_names),
            )
            try:
                selected = protocol.select_for_run(cfg, estimator, dataset, output_dir)
            except InvalidParameterError as exc:  # e.g. a solver that cannot stream X
                raise config_error(exc) from None
            # A path scored on the validation split was fitted on this training split: its
            # fit at the chosen penalty is where the final fit starts (and mostly ends).
            start = {}
            if selected is not None and selected.coef is not None:
                start = {"coef_init": selected.coef, "intercept_init": selected.intercept}
            started = time.perf_counter()
            try:
                estimator.fit(
                    dataset.X["train"],
                    dataset.y["train"],
                    eval_set=(dataset.X["val"], dataset.y["val"]),
                    **start,
                )
            except InvalidParameterError as exc:  # e.g. a batch larger than the data
                raise config_error(exc) from None
            fit_seconds = time.perf_counter() - started
            note = "epochs after the selection path's fit at the chosen penalty" if start else None
            # Nothing after the scores reads X again but cross-validation, which reads
            # the splits again if it needs them: at 10^6 reviews the test split (275 MB)
            # is read only once the training split (960 MB) is let go (docs/scale.md).
            result = evaluation.evaluate(estimator, dataset, cfg, output_dir, note, release=True)
            # What ran, not what was asked: the solver `auto` picked, the penalties after
            # selection, the iterations that made these weights.
            n_iter = int(np.max(estimator.n_iter_))
            row = {
                "experiment": cfg.experiment_name,
                "dataset": cfg.dataset.name,
                "data_source": cfg.dataset.source,
                "task": cfg.dataset.task,
                "model": cfg.model.name,
                "penalty": penalty_name(estimator),
                "l1": float(estimator.l1),
                "l2": float(estimator.l2),
                "solver": estimator.solver_,
                "selection": cfg.selection.name,
                "evaluation": cfg.evaluation.name,
                "n_iter": n_iter + (selected.n_iter_to_chosen if start else 0),
                "final_fit_iterations": n_iter,
                # How the final fit stopped: tol met, max_iter, stagnation (and why).
                "converged": bool(estimator.convergence_.converged),
                "convergence_criterion": float(estimator.convergence_.criterion),
                "stop_reason": estimator.convergence_.reason,
                "fit_seconds": fit_seconds,
                **result.metrics,
            }
            series = []
            if selected is not None:
                extra, series = protocol.selection_metrics(selected)
                row.update(extra)
            # The options the prepared data was made with (text, features): params in MLflow.
            row.update({f"data.{k}": v for k, v in recorded_options(dataset.meta).items()})
            row.update(
                protocol.holdout_intervals(
                    cfg, dataset, result.test_proba, result.threshold, output_dir
                )
            )
            if cfg.evaluation.name == "cv":
                cv_metrics, cv_series = protocol.cross_validate(cfg, dataset, output_dir)
                row.update(cv_metrics)
                series += cv_series
            row = headline.with_headline(row)
            if tracker is not None:
                tracker.log_params(ran_params(row))
                _log_run(tracker, cfg, estimator, dataset, output_dir, row, series)
            else:
                row["mlflow_run_id"] = row["model_uri"] = ""
            row["run_seconds"] = time.perf_counter() - run_started
            write_text_atomic(output_dir / "metrics.json", json.dumps(row, indent=2))
            log.info(
                "accuracy %.4f [%.4f, %.4f] (%s), F1 %.4f, AUC %.4f (outputs in %s)",
                row["accuracy"],
                row["accuracy_ci_low"],
                row["accuracy_ci_high"],
                "cross-validated" if cfg.evaluation.name == "cv" else "held-out test split",
                row["f1"],
                row["auc"],
                os.path.relpath(output_dir),  # a log in the results folder names no abs. path
            )
            return row
    except BaseException as exc:
        error = exc
        raise
    finally:
        if tracker is not None:
            _finish(tracker, error)
