"""A results folder moves as one: copied elsewhere and its original deleted, it still opens.

Runs are trained as the workflow trains them: from the clone's folder, with the relative
``paths.results_dir=results`` and ``sqlite:///results/mlflow.db``, one of them through
``python -m logreg.train`` (Hydra's own records and log included). Then ``results/`` is
copied to another path and the whole clone deleted: the copy must name the old place
nowhere, and its store, artifacts, logged models, ``logreg.predict``, ``logreg.compare``
and ``make ui`` must work from the copy alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from reviews_data import prepare_domain

from logreg.data.reviews.demo import write_demo_data
from logreg.experiment.compare import load_run, open_run
from logreg.experiment.compare import main as compare_main
from logreg.experiment.config import compose
from logreg.experiment.run import train
from logreg.serving import artifact_store
from paths import SRC
from servers import make_ui

REVIEWS = [
    "experiment=reviews",
    "dataset.source=demo",
    "dataset.domain=electronics",
    "progress=false",
    "evaluation.n_splits=3",
    "evaluation.n_repeats=2",
    "selection.n_values=4",
]
RUNS = {
    "runs/reviews/demo/electronics": REVIEWS,
    "runs/reviews_l2/demo/electronics": [*REVIEWS, "selection=fixed", "penalty.l2=0.5"],
}
CLI_RUN = "runs/gaussian_clouds/generated"
TEXTS = ["Great sound, easy to set up. Love it!", "Broke after a week, a waste of money."]


@dataclass
class Moved:
    old: Path  # the clone the runs were trained in, deleted
    results: Path  # the copy of its results folder
    rows: dict[str, dict]  # run folder (relative to results) -> its metrics.json

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.results / 'mlflow.db'}"


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> Moved:
    base = tmp_path_factory.mktemp("portable")
    clone = base / "clone"
    clone.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(clone)
        write_demo_data("data/demo", ["electronics"], seed=0, n_per_file=60)
        prepare_domain(Path("data/demo"), Path("results"), "demo", "electronics")
        rows = {
            folder: train(compose(overrides), Path("results", folder))
            for folder, overrides in RUNS.items()
        }
        # As the workflow's rule train runs it.
        cli = run_command(
            "logreg.train",
            "experiment=gaussian_clouds",
            "dataset.n_samples=400",
            "progress=false",
            f"hydra.run.dir=results/{CLI_RUN}",
            "hydra.output_subdir=.hydra",
            cwd=clone,
        )
        assert cli.returncode == 0, cli.stderr[-3000:]
        rows[CLI_RUN] = json.loads(Path("results", CLI_RUN, "metrics.json").read_text())
    copy = base / "elsewhere" / "archived-results"
    shutil.copytree(clone / "results", copy)
    shutil.rmtree(clone)
    return Moved(clone, copy, rows)


def run_command(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = dict(env or os.environ, PYTHONPATH=str(SRC), MLFLOW_DISABLE_TELEMETRY="true")
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_no_file_of_the_moved_results_names_the_old_place(moved):
    old = str(moved.old).encode()
    files = [path for path in moved.results.rglob("*") if path.is_file()]
    assert any(path.name == "mlflow.db" for path in files)
    assert any(path.name == "MLmodel" for path in files)  # the logged models came along
    assert (moved.results / CLI_RUN / ".hydra" / "hydra.yaml").is_file()
    assert (moved.results / CLI_RUN / "train.log").is_file()
    naming = [str(p.relative_to(moved.results)) for p in files if old in p.read_bytes()]
    assert not naming, f"these files name the old place {moved.old}: {naming}"
    # The store names no artifact by a file path at all, so it names no future place either.
    assert b"file:/" not in (moved.results / "mlflow.db").read_bytes()


def test_the_moved_store_lists_the_runs_and_serves_their_artifacts_and_models(moved, tmp_path):
    client = MlflowClient(tracking_uri=moved.uri)
    assert client.get_experiment("0").artifact_location == "mlflow-artifacts:/0"
    listed = {
        run.info.run_id
        for experiment in client.search_experiments()
        for run in client.search_runs([experiment.experiment_id])
    }
    assert listed == {row["mlflow_run_id"] for row in moved.rows.values()}
    for folder, row in moved.rows.items():
        run = client.get_run(row["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.run_id}/artifacts"
        fetched = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
        assert Path(fetched).read_bytes() == (moved.results / folder / "config.yaml").read_bytes()
        model = client.get_logged_model(row["model_uri"].removeprefix("models:/"))
        assert model.artifact_location.startswith("mlflow-artifacts:/models/")

    # The Gaussian clouds' model (two numeric columns) loads and predicts in-process.
    row = moved.rows[CLI_RUN]
    previous = mlflow.get_tracking_uri()
    artifact_store.register()
    mlflow.set_tracking_uri(moved.uri)
    try:
        model = mlflow.pyfunc.load_model(row["model_uri"])
    finally:
        mlflow.set_tracking_uri(previous)
    labels = model.predict(pd.DataFrame({"x1": [-3.0, 3.0], "x2": [-3.0, 3.0]}))["label"]
    assert list(labels) == ["0", "1"]


def test_predict_on_the_moved_run_folder_and_by_run_id(moved, tmp_path):
    folder = moved.results / "runs/reviews/demo/electronics"
    by_folder = run_command("logreg.predict", str(folder), *TEXTS, cwd=tmp_path)
    assert by_folder.returncode == 0, by_folder.stderr[-3000:]
    lines = by_folder.stdout.splitlines()
    assert len(lines) == 2 and all(
        line.split("\t")[0] in ("positive", "negative") for line in lines
    )
    run_id = moved.rows["runs/reviews/demo/electronics"]["mlflow_run_id"]
    by_id = run_command("logreg.predict", run_id, "--tracking-uri", moved.uri, *TEXTS, cwd=tmp_path)
    assert by_id.returncode == 0, by_id.stderr[-3000:]
    assert by_id.stdout == by_folder.stdout
    # The run folder's store was found beside it: nothing was created in the working folder.
    assert not list(tmp_path.iterdir())


def test_predict_refuses_a_store_that_is_not_there(moved, tmp_path):
    run_id = moved.rows["runs/reviews/demo/electronics"]["mlflow_run_id"]
    missing = tmp_path / "nowhere" / "mlflow.db"
    result = run_command(
        "logreg.predict", run_id, "--tracking-uri", f"sqlite:///{missing}", "x", cwd=tmp_path
    )
    assert result.returncode == 2
    assert f"no tracking store at {missing}" in result.stderr
    assert not missing.exists()


def test_compare_by_run_ids_on_the_moved_store_leaves_no_temporary_folder(moved, tmp_path, capsys):
    a, b = (moved.rows[f"runs/{name}/demo/electronics"] for name in ("reviews", "reviews_l2"))
    client = MlflowClient(tracking_uri=moved.uri)
    # A run logs its folder before metrics.json is written: the ids must work without it.
    assert "metrics.json" not in {item.path for item in client.list_artifacts(a["mlflow_run_id"])}
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    by_id = run_command(
        "logreg.compare",
        a["mlflow_run_id"],
        b["mlflow_run_id"],
        "--tracking-uri",
        moved.uri,
        cwd=tmp_path,
        env=dict(os.environ, TMPDIR=str(scratch)),
    )
    assert by_id.returncode == 0, by_id.stderr[-3000:]
    assert f"A: MLflow run {a['mlflow_run_id']}" in by_id.stdout
    assert "(corrected resampled t-test)" in by_id.stdout
    assert not list(scratch.iterdir()), "compare left temporary folders behind"
    compare_main(
        [
            str(moved.results / "runs/reviews/demo/electronics"),
            str(moved.results / "runs/reviews_l2/demo/electronics"),
        ]
    )
    # The same test on the same folds, whether the runs are named by id or by folder.
    assert by_id.stdout.splitlines()[2:] == capsys.readouterr().out.splitlines()[2:]


def test_a_run_id_without_metrics_json_has_the_record_of_its_folder(moved):
    folder = moved.results / "runs/reviews/demo/electronics"
    from_folder = load_run(folder)
    with open_run(from_folder.metrics["mlflow_run_id"], moved.uri) as run:
        downloaded = run.folder
        assert downloaded.is_dir() and downloaded.name.startswith("logreg-compare-")
        assert run.fold_identity() == from_folder.fold_identity()
        assert run.metrics["task"] == from_folder.metrics["task"]
        assert run.metrics["test_accuracy_mean"] == pytest.approx(
            from_folder.metrics["test_accuracy_mean"]
        )
        assert run.folds.equals(from_folder.folds)
    assert not downloaded.exists()


def test_an_mlflow_artifacts_uri_of_a_server_goes_to_the_server():
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

    repository = artifact_store.artifact_repository(
        "mlflow-artifacts:/1/abc/artifacts", tracking_uri="http://127.0.0.1:5999"
    )
    assert isinstance(repository, MlflowArtifactsRepository)
    assert repository.artifact_uri == (
        "http://127.0.0.1:5999/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts"
    )


@pytest.mark.slow
def test_make_ui_on_the_moved_store_serves_run_and_model_artifacts(moved, tmp_path):
    row = moved.rows["runs/reviews/demo/electronics"]
    run_id, model_id = row["mlflow_run_id"], row["model_uri"].removeprefix("models:/")
    with make_ui(moved.uri, tmp_path) as base:
        with urllib.request.urlopen(f"{base}/get-artifact?run_id={run_id}&path=config.yaml") as got:
            expected = moved.results / "runs/reviews/demo/electronics/config.yaml"
            assert got.read() == expected.read_bytes()
        listing = f"{base}/ajax-api/2.0/mlflow/artifacts/list?run_id={run_id}"
        with urllib.request.urlopen(listing) as got:
            files = {item["path"] for item in json.load(got)["files"]}
        assert {"model.npz", "folds.csv", "figures"} <= files
        logged = (
            f"{base}/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"
            "?artifact_file_path=MLmodel"
        )
        with urllib.request.urlopen(logged) as got:
            assert "python_function" in got.read().decode()
