"""A tracked run's model answers over HTTP with `mlflow models serve`.

Trains one small run into a sqlite store, serves its ``model_uri`` (from metrics.json)
with the local environment, and posts ``dataframe_split`` JSON to ``/invocations``: the
answer must carry a label and class probabilities equal to the in-process model's.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path

import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from servers import free_port, stop, wait_http


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:  # an error status with a JSON body
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_served_model_of_a_tracked_run_answers_invocations(tmp_path):
    # `mlflow models serve` resolves the store's mlflow-artifacts:/ URIs through the
    # package's entry point (pyproject.toml), present once the package is installed.
    installed = entry_points(group="mlflow.artifact_repository", name="mlflow-artifacts")
    assert installed, "reinstall the package (`make`, or pip install -e .): no entry point"
    store = f"sqlite:///{tmp_path}/mlflow.db"
    # The venv's bin first on PATH: `models serve` execs `uvicorn` by name.
    env = dict(
        os.environ,
        MLFLOW_DISABLE_TELEMETRY="true",
        MLFLOW_TRACKING_URI=store,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    trained = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.train",
            "experiment=gaussian_clouds",
            "dataset.n_samples=200",
            f"paths.results_dir={tmp_path}",
            f"tracking.uri={store}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    model_uri = metrics["model_uri"]

    # The same model in this process: its input columns and the answers to expect.
    logged = MlflowClient(tracking_uri=store).get_logged_model(model_uri.split("/")[-1])
    assert logged.source_run_id == metrics["mlflow_run_id"]
    # The store names the model's files by an mlflow-artifacts:/ URI: fetched through the
    # store (docs/tracking.md), as `mlflow models serve` below fetches them.
    assert logged.artifact_location.startswith("mlflow-artifacts:/models/")
    local = mlflow.pyfunc.load_model(
        mlflow.artifacts.download_artifacts(
            artifact_uri=logged.artifact_location,
            dst_path=str(tmp_path / "model"),
            tracking_uri=store,
        )
    )
    columns = local.metadata.get_input_schema().input_names()
    assert len(columns) == 2, columns  # the Gaussian clouds have two features
    # Deep inside each cloud (means -2 and +2 on every axis), and one point between them.
    rows = [[-3.0, -3.0], [3.0, 3.0], [0.1, -0.2]]
    expected = local.predict(pd.DataFrame(rows, columns=columns))

    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", server, log, timeout=45)
        url = f"http://127.0.0.1:{port}/invocations"
        status, answer = post_json(url, {"dataframe_split": {"columns": columns, "data": rows}})
        assert status == 200, answer
        served = pd.DataFrame(answer["predictions"])
        proba = [c for c in served.columns if c.startswith("proba_")]
        assert list(served.columns) == ["label", *proba] and len(proba) == 2, served.columns
        assert list(served["label"]) == list(expected["label"])
        assert list(served["label"][:2]) == ["0", "1"]
        np.testing.assert_allclose(served[proba].to_numpy(), expected[proba].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(served[proba].sum(axis=1), 1.0, rtol=1e-12)

        # Input that does not match the logged signature is refused, not guessed at.
        status, answer = post_json(url, {"dataframe_split": {"columns": ["a", "b"], "data": rows}})
        assert status == 400 and "missing inputs" in answer["message"], answer
    finally:
        stop(server)
    assert server.poll() is not None
