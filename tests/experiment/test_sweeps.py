"""Hydra sweeps through the real CLI: parent/child MLflow runs, parallel writers, seeds."""

import json
import os
import subprocess
import sys

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
        assert len(client.get_metric_history(child.info.run_id, "epoch_loss")) >= 1
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
