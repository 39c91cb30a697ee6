"""The whole workflow on the demo data it generates itself, as a user runs it."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from paths import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    return subprocess.run(
        [
            str(SNAKEMAKE),
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--cores",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> count from the job-stats table of a dry run."""
    table = result.stdout.split("Job stats:")[-1] if "Job stats:" in result.stdout else ""
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.mark.slow
def test_demo_run_trains_and_tracks_every_experiment(workflow_run):
    summary = pd.read_csv(workflow_run / "results" / "summary.csv")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert list(summary["experiment"]) == [e["name"] for e in config["experiments"]]
    for column in (
        "dataset",
        "model",
        "penalty",
        "l1",
        "l2",
        "solver",
        "test_accuracy",
        "test_f1",
        "test_auc",
        "mlflow_run_id",
    ):
        assert summary[column].notna().all(), column
    # The demo data is learnable: every model is far above chance on its test split.
    by_name = summary.set_index("experiment")
    assert (by_name.loc[["reviews_electronics", "reviews_kitchen"], "test_accuracy"] > 0.7).all()
    assert by_name.loc["faces_softmax", "test_accuracy"] > 0.4  # 7 classes
    client = MlflowClient(tracking_uri=f"sqlite:///{workflow_run}/results/mlflow.db")
    for run_id in summary["mlflow_run_id"]:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["source"].startswith("snakemake:train:")
    top = pd.read_csv(workflow_run / "results" / "runs" / "reviews_kitchen" / "top_words.csv")
    assert len(top) == 50


@pytest.mark.slow
def test_rerun_does_nothing_and_one_changed_parameter_reruns_one_training(workflow_run):
    again = snakemake(workflow_run, "-n")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["experiments"][0]["overrides"].append("penalty.l2=0.01")
    changed = workflow_run / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    plan = snakemake(workflow_run, "-n", "--configfile", str(changed))
    assert plan.returncode == 0, plan.stderr
    assert planned_jobs(plan) == {"train": 1, "report_figures": 1, "summary": 1, "all": 1}


@pytest.mark.slow
def test_logged_models_predict_from_raw_input_in_a_fresh_process(workflow_run):
    summary = pd.read_csv(workflow_run / "results" / "summary.csv").set_index("experiment")
    uri = f"sqlite:///{workflow_run}/results/mlflow.db"
    face = " ".join(["128"] * 2304)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        "reviews = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(reviews.predict(pd.DataFrame({'text': ['great excellent love it',"
        " 'poor waste returned it']})).to_json(orient='records'))\n"
        "faces = mlflow.pyfunc.load_model(sys.argv[2])\n"
        f"from_string = faces.predict(pd.DataFrame({{'pixels': [{face!r}]}}))\n"
        "import numpy as np\n"
        "image = np.full((48, 48), 128, dtype=np.uint8)\n"
        "from_array = faces.predict(pd.DataFrame({'pixels': [image]}))\n"
        "assert from_string.equals(from_array), (from_string, from_array)\n"
        "print(from_string.to_json(orient='records'))\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            summary.loc["reviews_electronics", "model_uri"],
            summary.loc["faces_softmax", "model_uri"],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reviews_out, faces_out = (
        pd.read_json(io.StringIO(line)) for line in result.stdout.splitlines()[-2:]
    )
    assert list(reviews_out["label"]) == ["positive", "negative"]
    assert reviews_out[["proba_negative", "proba_positive"]].sum(axis=1).round(6).eq(1).all()
    assert faces_out.loc[0, "label"] in (
        "Angry",
        "Disgust",
        "Fear",
        "Happy",
        "Sad",
        "Surprise",
        "Neutral",
    )

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.serving.predict",
            summary.loc["reviews_kitchen", "mlflow_run_id"],
            "--tracking-uri",
            uri,
            "excellent, love it",
            "a waste, poor",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    labels = [line.split("\t")[0] for line in cli.stdout.splitlines()]
    assert labels == ["positive", "negative"]


@pytest.mark.slow
def test_report_holds_every_runs_figures_and_the_summary(workflow_run):
    result = snakemake(workflow_run, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workflow_run / "results" / "report.html").read_text(errors="replace")
    for name in (
        "summary.csv",
        "learning_curves.png",
        "confusion_matrix.png",
        "roc.png",
        "top_words.png",
        "weight_images.png",
        "faces_softmax",
        "reviews_kitchen",
    ):
        assert name in html, name
