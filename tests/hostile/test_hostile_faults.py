"""Faults during training: divergence, a killed process, a tracking store that fails.

Whatever happens, a run's folder is never half-written and work that was done is kept:
the MLflow run says what happened (FAILED with the error as a tag, or KILLED).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from harness import error_line, leftovers, record, run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from logreg.experiment import tracking
from logreg.experiment.config import compose
from logreg.experiment.run import train
from logreg.linear.exceptions import TrainingDivergedError

# Long enough to be killed mid-fit (~1 s of fitting), short enough to rerun.
LONG_FIT = [
    "experiment=gaussian_clouds",
    "dataset.n_samples=50000",
    "optimizer=minibatch",
    "optimizer.max_iter=20",
    "optimizer.tol=1e-12",
    "progress=false",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One sqlite tracking store for the module (creating one costs seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    tracking.init_store(uri)
    return uri


def _runs(uri: str, experiment: str):
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_runs([found.experiment_id])


def _cfg(tmp_path: Path, store: str, experiment: str, *overrides: str):
    return compose(
        [
            "experiment=gaussian_clouds",
            "dataset.n_samples=400",
            "progress=false",
            f"paths.results_dir={tmp_path}",
            f"tracking.uri={store}",
            f"tracking.experiment={experiment}",
            *overrides,
        ]
    )


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_divergence_is_stopped_in_the_first_epoch_naming_the_learning_rate(tmp_path, store, model):
    experiment = f"diverge-{model}"
    # Overlapping clouds: on separable ones a huge step can drive the loss to 0 instead.
    cfg = _cfg(
        tmp_path,
        store,
        experiment,
        f"model={model}",
        "optimizer=gd",
        "optimizer.lr=1e12",
        "dataset.mean0=[-0.3,-0.3]",
        "dataset.mean1=[0.3,0.3]",
    )
    with pytest.raises(TrainingDivergedError, match=r"epoch 1\b.*lr=1e\+12") as info:
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()
    (run_,) = _runs(store, experiment)
    assert run_.info.status == "FAILED"
    assert "lr=1e+12" in run_.data.tags["error"]
    record(
        "Faults",
        f"training diverges ({model}, optimizer=gd optimizer.lr=1e12)",
        f"python -m logreg.train experiment=gaussian_clouds model={model} optimizer=gd "
        "optimizer.lr=1e12 'dataset.mean0=[-0.3,-0.3]' 'dataset.mean1=[0.3,0.3]'",
        f"error: {info.value}",
    )


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "logreg.train", *args],
        cwd=cwd,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _kill_while_fitting(process: subprocess.Popen, log: Path, sig: int) -> int:
    """Send ``sig`` 0.3 s into the fit; return the exit status."""
    deadline = time.monotonic() + 120
    while "fitting LogisticRegression" not in log.read_text():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    time.sleep(0.3)
    assert process.poll() is None, "training ended before the signal: make LONG_FIT longer"
    process.send_signal(sig)
    return process.wait(timeout=120)


def _run_dir(results: Path) -> Path:
    """The one command-line run folder under ``results`` (named by its overrides)."""
    (folder,) = {log.parent for log in (results / "cli-runs").rglob("train.log")}
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, reason, case",
    [
        (signal.SIGTERM, "terminated by signal 15", "the training is sent SIGTERM (kill PID)"),
        (signal.SIGINT, "interrupted (SIGINT)", "the training is interrupted (Ctrl-C, SIGINT)"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_marks_the_run_killed_with_its_reason_and_writes_no_metrics(
    tmp_path, store, sig, reason, case
):
    args = [
        *LONG_FIT,
        "paths.results_dir=results",
        f"tracking.uri={store}",
        f"tracking.experiment={sig.name.lower()}",
    ]
    status = _kill_while_fitting(_start(args, tmp_path, tmp_path / "log"), tmp_path / "log", sig)
    assert status == 130
    (run_,) = _runs(store, sig.name.lower())
    assert run_.info.status == "KILLED"
    assert run_.data.tags["error"] == reason
    # The run's page says it first, above what the run was fitting.
    assert run_.data.tags["mlflow.note.content"].startswith(f"**KILLED**: {reason}\n\n**")
    folder = _run_dir(tmp_path / "results")
    assert not (folder / "metrics.json").exists()
    assert leftovers(tmp_path / "results") == []
    last = (tmp_path / "log").read_text().strip().splitlines()[-1]
    # Why, what stopped (the run's folder) and what MLflow says.
    assert last == (
        f"{reason}: the training run in {folder.relative_to(tmp_path)} stopped before it "
        "finished; its MLflow run is marked KILLED"
    )
    assert "Traceback" not in (tmp_path / "log").read_text()
    command = " ".join([*LONG_FIT, f"tracking.experiment={sig.name.lower()}"])
    record("Faults", case, f"python -m logreg.train {command}", last)


@pytest.mark.slow
def test_after_sigkill_the_same_command_completes_with_whole_outputs(tmp_path, store):
    args = [
        *LONG_FIT,
        "paths.results_dir=results",
        f"tracking.uri={store}",
        "tracking.experiment=sigkill",
    ]
    status = _kill_while_fitting(
        _start(args, tmp_path, tmp_path / "log"), tmp_path / "log", signal.SIGKILL
    )
    assert status == -signal.SIGKILL
    again = run([sys.executable, "-m", "logreg.train", *args], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    folder = _run_dir(tmp_path / "results")
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "model.npz", allow_pickle=False) as model:
        assert model["coef"].shape[-1] == 2
    assert leftovers(tmp_path / "results") == []
    # The killed process could not say so: its run stays RUNNING; the rerun is a new run.
    statuses = {r.info.run_id: r.info.status for r in _runs(store, "sigkill")}
    assert sorted(statuses.values()) == ["FINISHED", "RUNNING"]
    assert statuses[metrics["mlflow_run_id"]] == "FINISHED"


def _failing_artifact_upload(monkeypatch) -> list[int]:
    """Make every artifact upload fail as a locked or unreachable store would."""
    calls = []

    def log_artifacts(self, run_id, local_dir, artifact_path=None):
        calls.append(1)
        raise MlflowException("(sqlite3.OperationalError) database is locked")

    monkeypatch.setattr(MlflowClient, "log_artifacts", log_artifacts)
    return calls


def test_a_store_failing_at_the_end_keeps_the_trained_model(tmp_path, store, monkeypatch):
    calls = _failing_artifact_upload(monkeypatch)
    cfg = _cfg(tmp_path, store, "store-fails", "tracking.retries=1")
    with pytest.raises(tracking.TrackingError) as info:
        train(cfg, tmp_path / "run")
    message = f"error: {info.value}"
    assert message.startswith(f"error: {store}: could not upload artifacts after 2 attempts")
    assert len(calls) == 2  # one retry, then the error
    with np.load(tmp_path / "run" / "model.npz", allow_pickle=False) as model:
        assert np.isfinite(model["coef"]).all()  # the work is kept
    assert not (tmp_path / "run" / "metrics.json").exists()
    (run_,) = _runs(store, "store-fails")
    assert run_.info.status == "FAILED"
    assert "could not upload artifacts" in run_.data.tags["error"]
    assert message.endswith(f"the trained model and its files are in {tmp_path / 'run'}")
    record(
        "Faults",
        "the tracking store fails while logging at the end (simulated: "
        "MlflowClient.log_artifacts raises)",
        "python -m logreg.train experiment=gaussian_clouds tracking.retries=1",
        message.replace(store, "sqlite:///results/mlflow.db").replace(
            str(tmp_path / "run"), "results/cli-runs/gaussian_clouds/generated"
        ),
    )


def test_a_failed_rerun_in_the_same_folder_leaves_no_stale_metrics(tmp_path, store, monkeypatch):
    train(_cfg(tmp_path, store, "rerun", "penalty=l2", "penalty.l2=0.1"), tmp_path / "run")
    _failing_artifact_upload(monkeypatch)
    with pytest.raises(tracking.TrackingError):
        train(
            _cfg(tmp_path, store, "rerun", "penalty=l2", "penalty.l2=0.5", "tracking.retries=0"),
            tmp_path / "run",
        )
    metrics = tmp_path / "run" / "metrics.json"
    if metrics.exists():  # then it must describe the files next to it
        assert json.loads(metrics.read_text())["l2"] == 0.5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_store_fails_fast_with_the_uri(tmp_path):
    port = _closed_port()
    uri = f"http://127.0.0.1:{port}"
    args = [
        "experiment=gaussian_clouds",
        "dataset.n_samples=400",
        "paths.results_dir=results",
        f"tracking.uri={uri}",
        "tracking.retries=1",
    ]
    # MLflow's own HTTP retries (7, with back-off up to 2 min) are switched off here:
    # this test is about ours; the next one is about MLflow's.
    result = run(
        [sys.executable, "-m", "logreg.train", *args],
        cwd=tmp_path,
        timeout=120,
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
    )
    assert result.returncode == 2
    line = error_line(result.stderr)
    assert line.startswith(
        f"error: {uri}: could not open experiment 'gaussian_clouds' after 2 attempts: "
    )
    assert "tracking.uri" in line
    assert list((tmp_path / "results").rglob("metrics.json")) == []
    record(
        "Faults",
        "the tracking store is unreachable (tracking.retries=1)",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 python -m logreg.train "
        "experiment=gaussian_clouds tracking.uri=http://127.0.0.1:PORT tracking.retries=1",
        line.replace(str(port), "PORT"),
    )


@pytest.mark.slow
def test_an_unreachable_store_fails_within_20_seconds_by_default(tmp_path):
    args = [
        "experiment=gaussian_clouds",
        "dataset.n_samples=400",
        "paths.results_dir=results",
        f"tracking.uri=http://127.0.0.1:{_closed_port()}",
        "tracking.retries=1",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "logreg.train", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("no error after 20 s")
    assert result.returncode == 2
    assert time.monotonic() - started < 20
