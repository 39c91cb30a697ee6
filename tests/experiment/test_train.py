"""The training app: config checks, outputs, MLflow records, reproducibility."""

import json

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from logreg.experiment.config import compose
from logreg.experiment.headline import SCORES
from logreg.experiment.run import train


def _cfg(tmp_path, *overrides, tracking=True):
    base = [
        f"paths.results_dir={tmp_path}",
        "experiment=gaussian_clouds",
        "dataset.n_samples=400",
        "progress=false",
    ]
    if not tracking:
        base.append("tracking=none")
    return compose([*base, *overrides])


def test_gaussian_clouds_run_writes_outputs_and_tracks_everything(tmp_path, monkeypatch):
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    cfg = _cfg(tmp_path)
    row = train(cfg, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written == pytest.approx(row)
    for name in (
        "model.npz",
        "history.csv",
        "figures/learning_curves.png",
        "figures/roc.png",
        "figures/confusion_matrix.png",
        "confusion_matrix.csv",
        "config.yaml",
        "weights.csv",
    ):
        assert (tmp_path / "run" / name).is_file(), name
    # Well separated clouds: the Bayes error is ~0.2%, the model must be near it.
    assert row["test_accuracy"] > 0.97 and row["test_auc"] > 0.99

    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(row["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["penalty"] == "none" and run.data.params["penalty.l2"] == "0.0"
    assert run.data.params["seed"] == "0"
    assert run.data.metrics["test_accuracy"] == pytest.approx(row["test_accuracy"])
    assert len(run.data.tags["git_commit"]) in (40, 7)  # a sha, or "unknown"
    assert run.data.tags["source"] == "cli"
    history = client.get_metric_history(run.info.run_id, "epoch/loss")
    assert len(history) == len(
        np.loadtxt(tmp_path / "run" / "history.csv", delimiter=",", skiprows=1, ndmin=2)
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.npz", "metrics.json", "figures"} - artifacts == {"metrics.json"}
    # Artifacts live beside the sqlite store, never in ./mlruns of the current folder.
    assert not list(workdir.iterdir())
    assert (tmp_path / "artifacts").is_dir()


def test_same_config_and_seed_give_bit_identical_weights(tmp_path):
    for name in ("a", "b"):
        train(_cfg(tmp_path, "optimizer=minibatch", tracking=False), tmp_path / name)
    a, b = (np.load(tmp_path / n / "model.npz") for n in ("a", "b"))
    assert np.array_equal(a["coef"], b["coef"]) and np.array_equal(a["intercept"], b["intercept"])
    assert (tmp_path / "a" / "metrics.json").read_text().split("fit_seconds")[0] == (
        tmp_path / "b" / "metrics.json"
    ).read_text().split("fit_seconds")[0]


def test_failed_training_marks_the_mlflow_run_failed_with_the_error(tmp_path):
    # Overlapping clouds: a huge step misclassifies points by huge margins. (On separable
    # data a huge step can instead drive the loss to 0, which is not a divergence.)
    cfg = _cfg(
        tmp_path,
        "optimizer=gd",
        "optimizer.lr=1e12",
        "dataset.mean0=[-0.3,-0.3]",
        "dataset.mean1=[0.3,0.3]",
    )
    with pytest.raises(Exception, match=r"(?i)learning rate|lr"):
        train(cfg, tmp_path / "run")
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    (run,) = client.search_runs([client.get_experiment_by_name("gaussian_clouds").experiment_id])
    assert run.info.status == "FAILED"
    assert "diverged in epoch 1" in run.data.tags["error"]
    assert "lr=1e+12" in run.data.tags["error"]
    # The run's description leads with it, above what the run was fitting.
    note = run.data.tags["mlflow.note.content"]
    assert note.startswith("**FAILED**: ") and "**gaussian_clouds** on **generated**" in note
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_run_leads_with_its_answer_and_keeps_series_under_their_prefix(tmp_path):
    """metrics.json and MLflow put the answer first (accuracy with its interval, F1, AUC,
    the chosen penalty): the run page lists metrics in logging order, the compare page
    plots the first one. Per-fold, per-path and per-epoch values are series under cv/,
    path/ and epoch/, never a bare name that could be read as the answer."""
    cfg = _cfg(tmp_path, "penalty=l2", "evaluation=cv", "selection=cv_path")
    row = train(cfg, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    keys = list(written)
    assert keys[keys.index("evaluation") + 1 :][:5] == list(SCORES)
    assert written["evaluation"] == "cv"
    assert written["accuracy"] == round(row["test_accuracy_mean"], 4)
    assert written["accuracy_ci_low"] <= written["accuracy"] <= written["accuracy_ci_high"]
    assert (written["f1"], written["auc"]) == (
        round(row["test_f1_mean"], 4),
        round(row["test_auc_mean"], 4),
    )

    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(row["mlflow_run_id"])
    metrics = run.data.metrics
    assert list(metrics)[:6] == [*SCORES, "l2"]  # in the order the UI lists them
    assert metrics["l2"] == pytest.approx(row["l2"]) == pytest.approx(row["selected_l2"])
    assert all(metrics[k] == written[k] for k in SCORES)
    series = {k for k in metrics if "/" in k}
    assert {"cv/test_accuracy", "path/l2", "path/accuracy_mean", "epoch/loss"} <= series
    assert {k.split("/")[0] for k in series} == {"cv", "path", "epoch"}
    assert not [k for k in metrics if k.startswith(("fold_", "path_", "epoch_"))]
    folds = client.get_metric_history(run.info.run_id, "cv/test_accuracy")
    assert sorted(m.step for m in folds) == list(range(int(row["cv_folds"])))
    # Every number of metrics.json is a metric of the same name, but the data's options,
    # an inactive penalty and the times of logging itself (known after it).
    numbers = {
        k for k, v in written.items() if type(v) in (int, float) and not k.startswith("data.")
    }
    after = {"run_seconds", "model_logging_seconds", "tracking_seconds"}
    assert numbers - {"l1", *after} <= set(metrics)
