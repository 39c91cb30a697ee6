"""A Hydra sweep logs to a remote MLflow server backed by PostgreSQL.

Starts a throw-away PostgreSQL cluster (Debian's `postgresql` package; `initdb` and
`pg_ctl` run as the `postgres` user when the test runs as root) on a free loopback port,
an `mlflow server` on top of it, and a two-job sweep with ``tracking.uri=http://...``;
the server must then hold one finished parent run and two finished child runs.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from postgres import postgres_bin, postgres_cluster
from servers import free_port, stop, wait_http

PG_BIN = postgres_bin()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PG_BIN is None,
        reason="initdb/pg_ctl not found (PATH, /usr/lib/postgresql/*/bin): install Debian's "
        "'postgresql' package (.ci/run does) to test tracking on a PostgreSQL server",
    ),
]


@pytest.fixture
def postgres():
    """A PostgreSQL cluster on 127.0.0.1:<free port> (tests/postgres.py); yields the database
    URI (without the password) and the password."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL")
    # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="logreg-pg-"))
    base.chmod(0o711)  # the postgres user reaches its folder inside
    try:
        with postgres_cluster(base / "pg", password := secrets.token_hex(16)) as cluster:
            yield cluster.create_database("mlflow"), password
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_sweep_logs_parent_and_children_to_a_postgres_backed_server(tmp_path, postgres):
    port, log = free_port(), tmp_path / "server.log"
    artifacts = tmp_path / "artifacts"
    env = dict(
        os.environ,
        MLFLOW_DISABLE_TELEMETRY="true",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    database, env["PGPASSWORD"] = postgres  # never in the URI: `ps` would show it
    with log.open("w") as sink:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                database,
                "--default-artifact-root",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        uri = f"http://127.0.0.1:{port}"
        wait_http(f"{uri}/health", server, log, timeout=50)
        sweep = subprocess.run(
            [
                sys.executable,
                "-m",
                "logreg.train",
                "-m",
                "experiment=gaussian_clouds",
                "dataset.n_samples=200",
                "penalty=l2",
                "penalty.l2=0.01,0.1",
                f"tracking.uri={uri}",
                f"paths.results_dir={tmp_path / 'results'}",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=240,
        )
        assert sweep.returncode == 0, sweep.stderr[-4000:]

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("gaussian_clouds")
        assert experiment is not None, "the sweep created no experiment on the server"
        runs = client.search_runs([experiment.experiment_id])
        parents = [r for r in runs if r.data.tags.get("source") == "sweep"]
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert len(parents) == 1 and len(children) == 2 and len(runs) == 3, [
            (r.info.run_name, r.data.tags.get("source")) for r in runs
        ]
        parent = parents[0]
        assert parent.info.status == "FINISHED"
        assert {c.data.params["penalty.l2"] for c in children} == {"0.01", "0.1"}
        for child in children:
            assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
            assert child.info.status == "FINISHED"
            assert {"test_accuracy", "val_loss"} <= set(child.data.metrics)
            assert child.data.tags["model_uri"].startswith("models:/")
            # The run's files went to the server's artifact root.
            assert child.info.artifact_uri.startswith(str(artifacts)), child.info.artifact_uri
            assert (Path(child.info.artifact_uri) / "model.npz").is_file()
        best = min(children, key=lambda r: r.data.metrics["val_loss"])
        assert parent.data.tags["best_run_id"] == best.info.run_id
    finally:
        stop(server)
    assert server.poll() is not None
