"""The whole workflow on the demo data it generates itself, as a user runs it."""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from commands import SNAKEMAKE, snakemake
from paths import REPO
from readme import bash_blocks


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> count from the job-stats table of a dry run."""
    table = result.stdout.split("Job stats:")[-1] if "Job stats:" in result.stdout else ""
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


WORKFLOW_CONFIG = yaml.safe_load((REPO / "conf" / "workflow" / "config.yaml").read_text())
# The face features of each demo face experiment (its data is demo/<features>).
DEMO_FEATURES = {
    "faces_softmax": "kmeans",
    "faces_softmax_pixels": "pixels",
    "faces_happy_vs_sad": "hog",
}
DEMO_RUNS = [
    ("reviews", "demo/electronics"),
    ("reviews", "demo/kitchen_&_housewares"),
    ("faces_softmax", "demo"),
    ("faces_softmax_pixels", "demo"),
    ("faces_happy_vs_sad", "demo"),
    ("gaussian_clouds", "generated"),
]


@pytest.fixture(scope="module")
def workflow_run(demo_run):
    return demo_run.workdir  # tests/workflow/conftest.py: one run for the workflow tests


def demo_summary(workdir: Path) -> pd.DataFrame:
    return pd.read_csv(workdir / "results" / "summary" / "demo.csv", keep_default_na=False)


@pytest.mark.slow
def test_demo_run_trains_every_experiment_on_every_dataset_it_names(workflow_run):
    summary = demo_summary(workflow_run)
    assert list(zip(summary["experiment"], summary["dataset"])) == DEMO_RUNS
    assert set(summary["data_source"]) == {"demo", "generated"}
    for column in (
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
        assert (summary[column].astype(str) != "").all(), column
    # The demo data is learnable: every model is far above chance on its test split.
    by_run = summary.set_index(["experiment", "dataset"])
    assert (by_run.loc["reviews", "test_accuracy"] > 0.7).all()
    assert by_run.loc[("faces_softmax", "demo"), "test_accuracy"] > 0.4  # 7 classes
    top = pd.read_csv(workflow_run / "results/runs/reviews/demo/kitchen_&_housewares/top_words.csv")
    assert len(top) == 50


@pytest.mark.slow
def test_runs_can_be_told_apart_in_mlflow(workflow_run):
    summary = demo_summary(workflow_run)
    client = MlflowClient(tracking_uri=f"sqlite:///{workflow_run}/results/mlflow.db")
    runs = [client.get_run(run_id) for run_id in summary["mlflow_run_id"]]
    # The data a face run trains on includes its features: kmeans, pixels or hog.
    data = [f"{d}/{DEMO_FEATURES[e]}" if e in DEMO_FEATURES else d for e, d in DEMO_RUNS]
    names = [run.info.run_name for run in runs]
    assert names == [f"{e} {d}" for (e, _), d in zip(DEMO_RUNS, data)]  # unique: what, on what
    assert list(summary["features"]) == [
        "tfidf bigrams",
        "tfidf bigrams",
        "kmeans",
        "pixels",
        "hog",
        "coordinates",
    ]
    digests = {}
    for i, (run, (experiment, dataset), label) in enumerate(zip(runs, DEMO_RUNS, data)):
        tags, params = run.data.tags, run.data.params
        assert run.info.status == "FINISHED"
        assert tags["source"] == f"snakemake:train:{experiment}/{dataset}"
        assert tags["data.source"] == dataset.split("/")[0]
        assert tags["mlflow.source.name"] == "python -m logreg.train"
        # MLflow's dataset API fills the runs table's Dataset column.
        (dataset_input,) = run.inputs.dataset_inputs
        assert dataset_input.dataset.name == label
        digests[label] = dataset_input.dataset.digest
        if experiment != "gaussian_clouds":
            assert any(key.startswith("data_sha256.") for key in tags)
            assert len(dataset_input.dataset.digest) == 8
        # The run's page opens on its answer, then what it is.
        note = tags["mlflow.note.content"]
        assert note.startswith(f"**accuracy {float(summary['accuracy'][i]):.4f}**")
        assert f"**{experiment}** on **{label}**" in note
        # Only the parameters that apply: no Gaussian-cloud means on a review run, no
        # learning rate for L-BFGS.
        assert ("dataset.mean0" in params) == (experiment == "gaussian_clouds")
        assert "optimizer.lr" not in params
    # One MLflow experiment per task, each a model-training experiment.
    experiments = {client.get_experiment(run.info.experiment_id).name for run in runs}
    assert experiments == {
        "reviews_sentiment",
        "fer2013_emotions",
        "fer2013_happy_vs_sad",
        "gaussian_clouds",
    }
    # The same faces as pixels, HOG or k-means features are different data to MLflow too.
    assert len({digests["demo/kmeans"], digests["demo/pixels"], digests["demo/hog"]}) == 3
    for run in runs:
        tags = client.get_experiment(run.info.experiment_id).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development"
        # make ui's link opens a view of the runs, best accuracy first, the answer as columns.
        view = json.loads(tags["mlflow.sharedViewState.answer"])
        assert view["orderByKey"] == "metrics.`accuracy`" and view["orderByAsc"] is False
        assert view["selectedColumns"][:3] == [
            "metrics.`accuracy`",
            "metrics.`accuracy_ci_low`",
            "metrics.`accuracy_ci_high`",
        ]
        assert "viewStateShareKey=answer" in tags["mlflow.note.content"]
    # The summary is an MLflow run too: its picture, its short and full tables.
    (summary_run,) = client.search_runs(
        [client.get_experiment_by_name("summary").experiment_id],
        filter_string="tags.summary = 'demo'",
    )
    assert summary_run.info.run_name == "summary demo"
    artifacts = {a.path for a in client.list_artifacts(summary_run.info.run_id)}
    assert artifacts == {"demo.csv", "demo.short.csv", "demo.png"}
    assert "demo.png" in summary_run.data.tags["mlflow.note.content"]


@pytest.mark.slow
def test_rerun_does_nothing_and_one_changed_parameter_reruns_one_training(workflow_run):
    again = snakemake(workflow_run, "-n")
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr

    config = yaml.safe_load((REPO / "conf" / "workflow" / "config.yaml").read_text())
    config["experiments"][2]["overrides"].append("optimizer.max_iter=299")  # faces_softmax_pixels
    changed = workflow_run / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    plan = snakemake(workflow_run, "-n", "--configfile", str(changed))
    assert plan.returncode == 0, plan.stderr
    assert planned_jobs(plan) == {"train": 1, "summary": 1, "all": 1}


@pytest.mark.slow
def test_other_data_runs_beside_the_demo_and_overwrites_nothing(workflow_run):
    """New review domains with one option; their results and summary beside the demo's."""
    before = demo_summary(workflow_run)
    other = workflow_run / "other_reviews"
    for demo_domain, domain in (("electronics", "books"), ("kitchen_&_housewares", "dvd")):
        shutil.copytree(workflow_run / "data/demo/sorted_data_acl" / demo_domain, other / domain)
    result = snakemake(workflow_run, "--config", f"reviews_dir={other}", "review_domains=auto")
    assert result.returncode == 0, result.stderr[-4000:]
    source = re.search(r"results/data/reviews/(other_reviews-[0-9a-f]{6})/", result.stderr)[1]
    summary = pd.read_csv(workflow_run / "results" / "summary" / f"demo+{source}.csv")
    reviews = summary[summary["experiment"] == "reviews"]
    assert list(reviews["dataset"]) == [f"{source}/books", f"{source}/dvd"]
    assert set(reviews["data_source"]) == {source}
    # Only the new data was trained on: the face runs of the demo were reused.
    assert "faces_softmax" not in re.findall(r"wildcards: experiment=(\w+)", result.stderr)
    # The demo's results are intact, and the demo workflow still has nothing to do.
    pd.testing.assert_frame_equal(demo_summary(workflow_run), before)
    again = snakemake(workflow_run, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_a_missing_data_path_fails_at_start_up_whatever_results_exist(workflow_run):
    result = snakemake(workflow_run, "-n", "--config", "reviews_dir=/nonexistent")
    assert result.returncode == 1
    assert (
        "workflow config key reviews_dir: review files not found: "
        "/nonexistent/electronics/positive.review" in result.stdout + result.stderr
    )


@pytest.mark.slow
def test_the_tracking_store_follows_results_dir(workflow_run):
    result = snakemake(workflow_run, "-n", "-p", "--config", "results_dir=elsewhere")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sqlite:///elsewhere/mlflow.db" in result.stdout
    assert "sqlite:///results/mlflow.db" not in result.stdout


@pytest.mark.slow
def test_command_line_runs_of_two_presets_do_not_collide(workflow_run):
    """Command-line runs get folders (and MLflow names) of their own, apart from the
    workflow's; a config error leaves no folder behind."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")

    def train(*overrides):
        return subprocess.run(
            [sys.executable, "-m", "logreg.train", *overrides],
            cwd=workflow_run,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    for preset in ("faces_softmax", "faces_softmax_pixels"):
        result = train(f"experiment={preset}", "optimizer.max_iter=5")
        assert result.returncode == 0, result.stderr[-3000:]
    cli_runs = workflow_run / "results" / "cli-runs"
    assert (cli_runs / "faces_softmax/demo/optimizer.max_iter=5/metrics.json").is_file()
    assert (cli_runs / "faces_softmax_pixels/demo/optimizer.max_iter=5/metrics.json").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{workflow_run}/results/mlflow.db")
    names = {
        run.info.run_name
        for run in client.search_runs(
            [client.get_experiment_by_name("fer2013_emotions").experiment_id]
        )
    }
    # Started by hand, and named so: never taken for the workflow's run.
    assert {
        "cli faces_softmax demo/kmeans optimizer.max_iter=5",
        "cli faces_softmax_pixels demo/pixels optimizer.max_iter=5",
    } <= names

    bad = train("experiment=reviews", "penalty.l2=-1")
    assert bad.returncode == 2
    assert "config key 'penalty.l2'" in bad.stderr
    assert not (cli_runs / "reviews").exists()


@pytest.mark.slow
def test_logged_models_predict_from_raw_input_in_a_fresh_process(workflow_run):
    summary = demo_summary(workflow_run).set_index(["experiment", "dataset"])
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
            summary.loc[("reviews", "demo/electronics"), "model_uri"],
            summary.loc[("faces_softmax", "demo"), "model_uri"],
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
            "logreg.predict",
            summary.loc[("reviews", "demo/kitchen_&_housewares"), "mlflow_run_id"],
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
        "demo.csv",
        "demo.png",  # the forest plot: which experiment is best on each dataset
        "learning_curves.png",
        "confusion_matrix.png",
        "roc.png",
        "top_words.png",
        "weight_images.png",
        "faces_softmax",
        "kitchen_&amp;_housewares",
    ):
        assert name in html, name


@pytest.mark.slow
def test_the_readme_serving_commands_run_as_written(workflow_run, tmp_path):
    """README's "Serving a model" block, verbatim, in a folder laid out like the clone
    after `make run`: it serves the model over HTTP and gets predictions back."""
    (block,) = bash_blocks("Serving a model")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    (tmp_path / "results").symlink_to(workflow_run / "results")
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the model server, if it outlived the block
    assert process.returncode == 0, err[-3000:]
    lines = out.splitlines()
    assert lines[0].startswith("positive\t")  # python -m logreg.predict
    predictions = json.loads(lines[-1])["predictions"]  # curl against mlflow models serve
    assert [p["label"] for p in predictions] == ["positive", "negative"]


@pytest.mark.slow
def test_the_readme_training_examples_run_as_written_and_use_what_they_set(workflow_run, tmp_path):
    """README's "Training with Hydra" block, verbatim, in a folder laid out like the clone
    after `make run`: every command exits 0, and each run used the values it set."""
    (block,) = bash_blocks("Training with Hydra")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    shutil.copytree(workflow_run / "results" / "data", tmp_path / "results" / "data")
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [
        (json.loads(p.read_text(encoding="utf-8")), p.parent)
        for p in sorted((tmp_path / "results").glob("**/metrics.json"))
    ]
    assert runs, "no run folder"
    for metrics, folder in runs:
        for override in yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()):
            key, _, value = override.partition("=")
            if key == "penalty.l2":
                assert metrics["l2"] == float(value), folder
            elif key == "optimizer":
                assert metrics["solver"] == value, folder
            elif key == "selection":
                assert metrics["selection"] == value, folder


# A training job that writes its figures early and then cross-validates for a while, so
# Ctrl-C can land between its first output and its last (metrics.json).
SLOW_CLOUDS = {
    "experiments": [
        {
            "name": "clouds",
            "overrides": [
                "experiment=gaussian_clouds",
                "dataset.n_samples=50000",
                "optimizer=minibatch",
                "optimizer.max_iter=20",
                "optimizer.tol=1e-12",
                "evaluation=cv",
            ],
        }
    ]
}


@pytest.mark.slow
def test_after_ctrl_c_during_a_training_job_the_same_command_completes(tmp_path):
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(SLOW_CLOUDS))
    args = ["--configfile", "clouds.yaml"]
    run_dir = tmp_path / "results/runs/clouds/generated"
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--cores",
        "2",
        *args,
    ]
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    # Its own process group, which Ctrl-C in a terminal signals as a whole.
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not (run_dir / "figures").is_dir():
            assert process.poll() is None, "the workflow ended before its training job wrote"
            assert time.monotonic() < deadline, "the training job never wrote its figures"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=300) != 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert not (run_dir / "metrics.json").exists()  # cut off: figures, but no metrics
    log = (tmp_path / "results/logs/train/clouds/generated.log").read_text()
    assert log.strip().splitlines()[-1] == (
        "interrupted (SIGINT): the training run in results/runs/clouds/generated stopped "
        "before it finished; its MLflow run is marked KILLED"
    )
    # What the next run would have said without the default profile (the issue) ...
    bare = snakemake(tmp_path, "-n", "--workflow-profile", "none", *args)
    assert "IncompleteFilesException" in bare.stdout + bare.stderr
    # ... and the same command again, which now redoes the cut-off job by itself.
    again = snakemake(tmp_path, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/results/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("gaussian_clouds").experiment_id])
    statuses = {run.info.run_id: run.info.status for run in runs}
    assert sorted(statuses.values()) == ["FINISHED", "KILLED"]
    assert statuses[metrics["mlflow_run_id"]] == "FINISHED"


@pytest.mark.slow
def test_the_readme_reproduce_command_runs_as_written(workflow_run, tmp_path):
    """README's "Reproducing a run" block, verbatim, where the workflow ran: identical."""
    (block,) = bash_blocks("Reproducing a run")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    for name in ("results", "data"):
        (tmp_path / name).symlink_to(workflow_run / name)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("identical"), result.stdout
