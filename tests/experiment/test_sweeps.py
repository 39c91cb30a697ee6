"""Hydra sweeps through the real CLI: parent/child MLflow runs, parallel writers, seeds."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient


def run_train(tmp_path, *overrides, multirun=False, timeout=600):
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.train",
            *(["-m"] if multirun else []),
            "experiment=gaussian_clouds",
            "dataset.n_samples=200",
            f"paths.results_dir={tmp_path}",
            *overrides,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_parallel_sweep_logs_one_parent_and_every_child_with_its_metrics(tmp_path):
    # 8 jobs, 2 joblib worker processes writing to one sqlite store at the same time.
    result = run_train(
        tmp_path,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "penalty=l2",
        "penalty.l2=0.001,0.01,0.1,1.0",
        "optimizer=gd,minibatch",
        multirun=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("gaussian_clouds")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("source") == "sweep"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 8
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert "penalty.l2=0.001,0.01,0.1,1.0" in parent.data.params["sweep.overrides"]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        assert {"test_accuracy", "val_loss", "test_auc"} <= set(child.data.metrics)
        assert len(client.get_metric_history(child.info.run_id, "epoch/loss")) >= 1
    # Every job is paired with the best one on the same test set (McNemar).
    tied = {c.info.run_id for c in children if c.data.tags["indistinguishable_from_best"] == "true"}
    top = max(children, key=lambda r: r.data.metrics["test_accuracy_mean"])
    assert top.info.run_id in tied
    assert set(parent.data.tags["indistinguishable_from_best"].split(",")) == tied
    best = min(children, key=lambda r: r.data.metrics["val_loss"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_val_loss"] == pytest.approx(best.data.metrics["val_loss"])
    # Each job's outputs land under the results folder, one folder per job.
    jobs = (tmp_path / "sweeps" / "gaussian_clouds" / "generated").glob("*/metrics.json")
    assert len(list(jobs)) == 8


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["auto", "sgd"])
def test_same_cli_command_gives_bit_identical_weights_and_metrics(tmp_path, optimizer):
    outputs = []
    for name in ("first", "second"):
        result = run_train(
            tmp_path, f"optimizer={optimizer}", "tracking=none", f"hydra.run.dir={tmp_path / name}"
        )
        assert result.returncode == 0, result.stderr[-3000:]
        with np.load(tmp_path / name / "model.npz") as model:
            weights = (model["coef"].tobytes(), model["intercept"].tobytes())
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        metrics = {k: v for k, v in metrics.items() if not k.endswith("seconds")}
        outputs.append((weights, metrics))
    assert outputs[0] == outputs[1]


def sweep_runs(tmp_path):
    """(the sweep's parent run, its child runs) in the sweep's store."""
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("gaussian_clouds")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("source") == "sweep"]
    return parent, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


@pytest.mark.slow
def test_a_failed_job_marks_the_sweep_failed_naming_it_and_the_other_jobs_still_run(tmp_path):
    # Job #0 fails the estimator's validation (before its MLflow run starts); job #1 runs.
    result = run_train(tmp_path, "penalty=l2", "penalty.l2=-1,0.01", multirun=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert re.fullmatch(
        r"error: sweep job #0 \S*penalty\.l2=-1\S*: config key 'penalty\.l2': l2 must be >= 0, "
        r"got -1\.0",
        errors[0],
    )
    parent, children = sweep_runs(tmp_path)
    assert parent.info.status == "FAILED"
    tags = parent.data.tags
    assert re.fullmatch(
        r"#0 \S*penalty\.l2=-1\S*: config key 'penalty\.l2': .*", tags["failed_children"]
    )
    assert tags["error"] == "1 job of the sweep failed (tag failed_children)"
    assert not [key for key in tags if key.startswith("failed_job.")]  # gathered, not left
    # The other job ran after the failure, to its end; the failed one left no folder.
    (child,) = children
    assert child.info.status == "FINISHED"
    assert child.data.params["penalty.l2"] == "0.01"
    jobs = sorted(p.parent.name for p in (tmp_path / "sweeps").rglob("metrics.json"))
    assert len(jobs) == 1 and jobs[0].startswith("1_")
    # Hydra's closing lines (the job's overrides, where the failures are listed) are all.
    assert result.stderr.rstrip().splitlines()[-1].startswith("Set the environment variable")
    assert f"MLflow run {parent.info.run_id} lists" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, reason",
    [(signal.SIGINT, "interrupted (SIGINT)"), (signal.SIGTERM, "terminated by signal 15")],
    ids=["SIGINT", "SIGTERM"],
)
def test_an_interrupted_sweep_marks_its_runs_killed_with_the_reason(tmp_path, sig, reason):
    """Ctrl-C (or kill) while the first job fits: the sweep stops there, nothing RUNNING."""
    command = [
        sys.executable,
        "-m",
        "logreg.train",
        "-m",
        "experiment=gaussian_clouds",
        "dataset.n_samples=50000",  # a fit of ~1 s, so the signal lands inside the job
        "optimizer=minibatch",
        "optimizer.max_iter=20",
        "optimizer.tol=1e-12",
        "penalty=l2",
        "penalty.l2=0.001,0.01",
        "progress=false",
        f"paths.results_dir={tmp_path}",
    ]
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            # The parent run's id file means the store exists (reading it earlier could race
            # the sweep's own schema migration); then wait for the first child run.
            parent_file = tmp_path / "sweeps/gaussian_clouds/generated/mlflow_parent_run_id"
            client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
            deadline = time.monotonic() + 180
            while not parent_file.exists() or not client.search_runs(
                [client.get_experiment_by_name("gaussian_clouds").experiment_id],
                filter_string="tags.source != 'sweep'",
            ):
                assert process.poll() is None, stderr.read_text()[-3000:]
                assert time.monotonic() < deadline, "no child run appeared"
                time.sleep(0.05)
            process.send_signal(sig)
            status = process.wait(timeout=120)
        finally:
            process.kill()
    assert status == 130
    shown = stderr.read_text()
    assert "Traceback" not in shown
    assert re.fullmatch(
        re.escape(reason) + r": the sweep stopped in job #0 \S*penalty\.l2=0\.001\S*; the sweep's "
        r"and the job's MLflow runs are marked KILLED",
        shown.strip().splitlines()[-1],
    )
    parent, children = sweep_runs(tmp_path)
    assert parent.info.status == "KILLED"
    assert re.fullmatch(
        re.escape(reason) + r" in job #0 \S*penalty\.l2=0\.001\S*", parent.data.tags["error"]
    )
    assert parent.data.tags["mlflow.note.content"].startswith(f"**KILLED**: {reason} in job #0")
    (child,) = children  # job #1 never started
    assert child.info.status == "KILLED"
    assert reason in child.data.tags["error"]


def test_unknown_experiment_and_bad_type_fail_at_start_up(tmp_path):
    missing = run_train(tmp_path, "experiment=nope", "tracking=none")
    assert missing.returncode != 0
    assert "experiment" in missing.stderr and "nope" in missing.stderr
    wrong_type = run_train(tmp_path, "penalty.l2=abc", "tracking=none")
    assert wrong_type.returncode != 0
    assert "penalty.l2" in wrong_type.stderr
    assert not list(tmp_path.rglob("metrics.json"))


@pytest.mark.slow
def test_optuna_search_minimizes_validation_loss_and_records_the_best_run(tmp_path):
    result = run_train(tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=3", multirun=True)
    assert result.returncode == 0, result.stderr[-4000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("gaussian_clouds")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    (parent,) = [r for r in runs if r.data.tags.get("source") == "sweep"]
    assert len(children) == 3
    assert {float(r.data.params["penalty.l1"]) for r in children} != {0.0}  # searched
    # Every job is paired with the best one on the same test set (McNemar).
    tied = {c.info.run_id for c in children if c.data.tags["indistinguishable_from_best"] == "true"}
    top = max(children, key=lambda r: r.data.metrics["test_accuracy_mean"])
    assert top.info.run_id in tied
    assert set(parent.data.tags["indistinguishable_from_best"].split(",")) == tied
    best = min(children, key=lambda r: r.data.metrics["val_loss"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert "optuna" in parent.data.params["sweep.sweeper"].lower()
