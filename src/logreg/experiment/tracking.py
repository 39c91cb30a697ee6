"""MLflow tracking: one run per training, logged in batches, with bounded retries.

Everything goes through :class:`MlflowClient` with explicit batches (one ``log_batch``
per group of up to 1,000 metrics), because one call per value costs 6-9 ms on sqlite.
A store that is unreachable or locked is retried a bounded number of times with
exponential back-off, then reported as a :class:`TrackingError` naming the URI.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from logreg.errors import UserError
from logreg.experiment.headline import EPOCH

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# with_retries below bounds the retries; MLflow's own HTTP client would otherwise retry
# each request 7 times with back-off up to 2 minutes before we even see the error.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

from mlflow.entities import Metric, Param, RunStatus, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from logreg.serving import artifact_store  # noqa: E402

# The store names artifacts by mlflow-artifacts:/ URIs; this process resolves them itself.
artifact_store.register()

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000
NOTE = "mlflow.note.content"  # a run's or an experiment's description in the UI


class TrackingError(UserError):
    """The tracking store could not be reached or written after the allowed retries."""


def prepare_store_uri(uri: str, retries: int = 5) -> str:
    """Create a new ``sqlite:///`` store, and its folder (MLflow does not); return the URI.

    The new store's Default experiment gets the proxied artifact root too: created by a plain
    MLflow client it would name ``<working folder>/mlruns``, an absolute path.
    """
    database = artifact_store.sqlite_file(uri)
    if database is not None:
        # This process talks to the file by its absolute path: MLflow caches one store per
        # URI, and a relative one would name another file once the working folder changes.
        # (Nothing of it is recorded: artifacts are named by path-free URIs.)
        uri = f"sqlite:///{database.resolve()}"
    if database is not None and not database.is_file():
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        database.parent.mkdir(parents=True, exist_ok=True)
        with_retries(
            lambda: SqlAlchemyStore(uri, artifact_store.PROXIED_ROOT),
            what="create the store",
            uri=uri,
            retries=retries,
        )
    return uri


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: for a sqlite store the proxied root
    ``mlflow-artifacts:/``, i.e. the ``artifacts`` folder beside the database wherever the
    results folder is moved (:mod:`logreg.serving.artifact_store`); for a server, None: the
    server's own root.

    Without this MLflow puts them in ``./mlruns`` of whatever folder the process ran in.
    """
    return None if artifact_store.sqlite_file(uri) is None else artifact_store.PROXIED_ROOT


def with_retries(action: Callable[[], T], *, what: str, uri: str, retries: int) -> T:
    """Run ``action``; on a store error retry up to ``retries`` times, then raise.

    Retried: MLflow errors (a locked sqlite file, a server answering 5xx) and connection
    errors. Back-off doubles from 0.5 s, capped at 8 s.
    """
    delay = 0.5
    for attempt in range(retries + 1):
        try:
            return action()
        except (MlflowException, OSError) as exc:
            if attempt == retries:
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise TrackingError(
                    f"could not {what} after {retries + 1} attempts: {first_line[:300]}. "
                    "Check that the tracking store is reachable (tracking.uri) and not "
                    "locked",
                    where=uri,
                ) from exc
            log.warning(
                "tracking store %s: %s failed (%s); retrying in %.1f s",
                uri,
                what,
                str(exc).splitlines()[0][:200],
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")  # the loop always returns or raises


class Tracker:
    """A handle on one MLflow run: created at start, finished with a status at the end."""

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str | None,
        tags: Mapping[str, str],
        retries: int = 5,
        parent_run_id: str | None = None,
    ):
        self.uri, self.retries = uri, retries  # as configured: what messages and logs name
        self.seconds = 0.0  # time spent talking to the store, to keep logging cheap
        self.client = MlflowClient(tracking_uri=prepare_store_uri(uri, retries))
        experiment_id = self.retry(
            lambda: self._experiment_id(experiment), f"open experiment '{experiment}'"
        )
        all_tags = dict(tags)
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.retry(
            lambda: self.client.create_run(experiment_id, run_name=run_name, tags=all_tags),
            "create a run",
        )
        self.run_id: str = run.info.run_id
        self.experiment_id = experiment_id
        # Kept below the error if the run stops (the UI shows the description first).
        self.description = all_tags.get(NOTE, "")
        log.info("MLflow run %s in experiment '%s' at %s", self.run_id, experiment, self.uri)

    def retry(self, action: Callable[[], T], what: str) -> T:
        """Run ``action`` against the store with this run's bounded retries."""
        started = time.perf_counter()
        try:
            return with_retries(action, what=what, uri=self.uri, retries=self.retries)
        finally:
            self.seconds += time.perf_counter() - started

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            # A model-training experiment: the UI opens on its runs, not the GenAI overview.
            return self.client.create_experiment(
                name,
                artifact_location=artifact_root(self.uri),
                tags={"mlflow.experimentKind": "custom_model_development"},
            )
        except MlflowException:
            # Another process created it between our lookup and our create.
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def log_params(self, params: Mapping[str, object]) -> None:
        items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in sorted(params.items())]
        for start in range(0, len(items), MAX_PARAMS_PER_BATCH):
            chunk = items[start : start + MAX_PARAMS_PER_BATCH]
            self.retry(lambda: self.client.log_batch(self.run_id, params=chunk), "log params")

    def log_dataset(
        self,
        name: str,
        *,
        source: str,
        source_hashes: Mapping[str, str],
        profile: Mapping[str, object],
        options: Mapping[str, object] | None = None,
    ) -> None:
        """Record the run's data with MLflow's dataset API (the runs table's Dataset column).

        The digest is taken over the sha256 of the raw files the data was prepared from and
        the ``options`` it was prepared with (features, text options): the same faces as
        pixels or as HOG features are two datasets, ``demo/pixels (1a2b...)`` and
        ``demo/hog (3c4d...)``.
        """
        from mlflow.entities import Dataset, DatasetInput, InputTag

        identity = "".join(f"{Path(p).name}:{h}\n" for p, h in sorted(source_hashes.items()))
        identity += json.dumps(options or {}, sort_keys=True, default=str)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        dataset = Dataset(
            name=name,
            digest=digest,
            source_type="local",
            source=json.dumps({"uri": str(source)}),
            profile=json.dumps(profile),
        )
        tags = [InputTag(key="mlflow.data.context", value="training")]
        self.retry(
            lambda: self.client.log_inputs(self.run_id, [DatasetInput(dataset, tags)]),
            "log the dataset",
        )

    def set_tags(self, tags: Mapping[str, object]) -> None:
        items = [RunTag(k, str(v)) for k, v in sorted(tags.items())]
        self.retry(lambda: self.client.log_batch(self.run_id, tags=items), "set tags")

    def log_metrics(self, metrics: Iterable[tuple[str, float, int]]) -> None:
        """Log ``(key, value, step)`` triples in batches of at most 1,000."""
        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(step)) for k, v, step in metrics]
        for start in range(0, len(items), MAX_METRICS_PER_BATCH):
            chunk = items[start : start + MAX_METRICS_PER_BATCH]
            self.retry(lambda: self.client.log_batch(self.run_id, metrics=chunk), "log metrics")

    def log_history(self, history: Mapping[str, list[float]]) -> None:
        """Per-epoch curves as the series ``epoch/<name>``, ``step`` = epoch (1-based)."""
        self.log_metrics(
            (f"{EPOCH}{key}", value, step)
            for key, values in history.items()
            for step, value in enumerate(values, start=1)
        )

    def log_artifacts(self, folder: str | os.PathLike) -> None:
        self.retry(
            lambda: self.client.log_artifacts(self.run_id, os.fspath(folder)), "upload artifacts"
        )

    def describe(self, text: str) -> None:
        """Set the run's description (markdown, the top of its page in the UI)."""
        self.description = text
        self.retry(lambda: self.client.set_tag(self.run_id, NOTE, text), "set the description")

    def finish(self, status: str = "FINISHED", error: BaseException | None = None) -> None:
        """End the run; a failure records the error message as the ``error`` tag and leads
        the description with it (``**KILLED**: interrupted (SIGINT)``)."""
        if error is not None:
            message = (str(error) or type(error).__name__)[:MAX_PARAM_LENGTH]
            note = f"**{status}**: {message}\n\n{self.description}".strip()
            self.set_tags({"error": message, NOTE: note})
        self.retry(
            lambda: self.client.set_terminated(self.run_id, status=status), f"mark the run {status}"
        )


def status_for(error: BaseException | None) -> str:
    """FINISHED, KILLED for an interrupt (Ctrl-C, SIGTERM), FAILED for any other error."""
    if error is None:
        return RunStatus.to_string(RunStatus.FINISHED)
    if isinstance(error, KeyboardInterrupt):
        return RunStatus.to_string(RunStatus.KILLED)
    return RunStatus.to_string(RunStatus.FAILED)


def init_store(uri: str, retries: int = 5) -> None:
    """Create the store (for sqlite: the file and its schema) before parallel jobs use it."""
    client = MlflowClient(tracking_uri=prepare_store_uri(uri, retries))
    with_retries(
        lambda: client.search_experiments(max_results=1),
        what="initialize the store",
        uri=uri,
        retries=retries,
    )


def main(argv: list[str] | None = None) -> None:
    import argparse

    from logreg.fileio import write_text_atomic

    parser = argparse.ArgumentParser(
        prog="python -m logreg.experiment.tracking", description="Create an MLflow tracking store."
    )
    parser.add_argument("--init", required=True, metavar="URI", help="tracking URI")
    parser.add_argument("--marker", help="file written once the store is ready")
    args = parser.parse_args(argv)
    init_store(args.init)
    log.info("tracking store ready at %s", args.init)
    if args.marker:
        write_text_atomic(args.marker, args.init + "\n")


if __name__ == "__main__":
    from logreg.cli import run_cli

    run_cli(main)
