"""The README's "Running on a cluster", word for word, on a cluster the test starts itself.

A throw-away single-node SLURM (tests/cluster/slurm.sh), PostgreSQL with a password, and
`make server` (MLflow with basic-auth and proxied artifacts). As the user "alice" the demo
workflow runs through workflow/profiles/slurm and a Hydra sweep through the submitit
launcher, while the same workflow runs locally beside them. Then: every training ran as a
SLURM job (its job id in the run's tags), metrics, artifacts and summary.csv equal the local
run's, an anonymous request gets 401, another user ("bob") cannot delete alice's runs, a
served model loads from the server, and no secret reached a param or tag.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import readme_commands as cmd
import requests

from paths import REPO
from postgres import postgres_bin, postgres_cluster
from servers import free_port, stop, wait_http

SLURM_TOOLS = (
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "slurmdbd",
    "sbatch",
    "squeue",
    "srun",
    "sacct",
    "mariadbd",
    "mariadb-install-db",
)
MISSING = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
VENV = Path(sys.prefix)
STAMP = VENV / (
    ".installed-"
    + subprocess.run(
        "cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1",
        shell=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"{', '.join(MISSING)} not found: install Debian's slurm-wlm, slurmdbd, munge and "
        "mariadb-server "
        "(.ci/run does) to run the workflow on a test SLURM cluster",
    ),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="the test SLURM cluster needs root (slurmd runs the jobs)"
    ),
    pytest.mark.skipif(
        postgres_bin() is None, reason="PostgreSQL (initdb, pg_ctl) not found (.ci/run installs it)"
    ),
    pytest.mark.skipif(
        not STAMP.exists(),
        reason=f"`make server` would reinstall {VENV}: it was not built by make from this "
        "requirements.lock (make test builds it)",
    ),
]
# What legitimately differs between a SLURM and a local run of the same configuration.
VARYING = ("seconds", "mlflow_run_id", "model_uri")
CHECKOUT = (
    "Snakefile",
    "conf",
    "workflow",
    "Makefile",
    "requirements.lock",
    "pyproject.toml",
    "scripts",
    "tests",
)


def checkout(folder: Path) -> Path:
    """A working copy: the repository's files linked in, its own results/ and data/."""
    folder.mkdir()
    for name in CHECKOUT:
        (folder / name).symlink_to(REPO / name)
    (folder / ".venv").symlink_to(VENV)
    return folder


def shell(command: str, cwd: Path, env: dict, prelude: str = "", **kwargs):
    return subprocess.Popen(
        ["bash", "-c", f"{prelude}\n{command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen, what: str, timeout: float) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, _ = proc.communicate()
        raise AssertionError(
            f"{what} took more than {timeout:.0f} s; output ends:\n{out[-4000:]}"
        ) from None
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}); output ends:\n{out[-4000:]}"
    return out


def comparable(row: pd.Series) -> dict:
    return {k: v for k, v in row.items() if not any(k.endswith(s) for s in VARYING)}


def test_readme_cluster_commands_give_the_local_results(tmp_path):
    # Not tmp_path: private to root, and PostgreSQL runs as its own user. Short, too, since a
    # unix socket path has at most 107 characters.
    base = Path(tempfile.mkdtemp(prefix="logreg-cl-"))
    base.chmod(0o711)  # PostgreSQL, run as its own user, reaches its folder inside
    env = dict(
        os.environ,
        PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        MLFLOW_DISABLE_TELEMETRY="true",
        LOGREG_SLURM_DIR=str(base / "slurm"),
    )
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "SLURM_CONF",
    ):
        env.pop(name, None)
    work = checkout(base / "site")
    prelude, server, runs = "", None, {}
    try:
        up = subprocess.run(
            ["bash", "-c", f"{cmd.CLUSTER_UP}\nexport -p | grep -E ' (SLURM_CONF|PATH)='"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert up.returncode == 0, up.stderr
        prelude = up.stdout  # the state `eval "$(tests/cluster/slurm.sh up)"` leaves in a shell

        with postgres_cluster(base / "pg", password=secrets.token_hex(16)) as pg:
            port = free_port()
            uri = f"http://127.0.0.1:{port}"
            admin = ("admin", secrets.token_hex(16))
            server_env = dict(
                env,
                BACKEND_STORE_URI=pg.create_database("mlflow"),
                AUTH_DATABASE_URI=pg.create_database("mlflow_auth"),
                PGPASSWORD=pg.password,
                ARTIFACTS_DESTINATION=str(base / "artifacts"),
                MLFLOW_AUTH_ADMIN_USERNAME=admin[0],
                MLFLOW_AUTH_ADMIN_PASSWORD=admin[1],
                PORT=str(port),
            )
            log = base / "server.log"
            with log.open("w") as sink:
                server = subprocess.Popen(
                    ["bash", "-c", cmd.SERVER],
                    cwd=work,
                    env=server_env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            wait_http(f"{uri}/health", server, log, timeout=90)

            anonymous = requests.get(f"{uri}/api/2.0/mlflow/experiments/search?max_results=5")
            assert anonymous.status_code == 401, anonymous.text[:300]
            users = {name: secrets.token_hex(12) for name in ("alice", "bob")}
            for name, password in users.items():
                made = requests.post(
                    f"{uri}/api/2.0/mlflow/users/create",
                    json={"username": name, "password": password},
                    auth=admin,
                    timeout=30,
                )
                assert made.status_code == 200, made.text[:300]

            alice = dict(
                env,
                MLFLOW_TRACKING_URI=uri,
                MLFLOW_TRACKING_USERNAME="alice",
                MLFLOW_TRACKING_PASSWORD=users["alice"],
            )
            local = checkout(base / "local")
            # The three at once: the cluster's jobs queue for its 2 CPUs anyway.
            runs["workflow through the SLURM profile"] = shell(cmd.WORKFLOW, work, alice, prelude)
            runs["sweep through submitit"] = shell(cmd.SWEEP, work, alice, prelude)
            runs["local workflow"] = shell(cmd.LOCAL_WORKFLOW, local, env)
            outputs = {what: finish(proc, what, 600) for what, proc in runs.items()}

            check_results(work, local, uri, alice, users, outputs)
    finally:
        # Also on a failure or an interrupt: the workflows and the sweep run in their own
        # sessions, so nothing else would stop them.
        for proc in runs.values():
            stop(proc)
        if server is not None:
            stop(server)
        down = subprocess.run(
            ["bash", "-c", cmd.CLUSTER_DOWN],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shutil.rmtree(base, ignore_errors=True)
    assert down.returncode == 0, down.stderr


def check_results(work: Path, local: Path, uri: str, alice: dict, users: dict, outputs: dict):
    from mlflow.tracking import MlflowClient

    os.environ.update(  # MlflowClient reads the credentials from the environment only
        MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD=users["alice"]
    )
    try:
        client = MlflowClient(tracking_uri=uri)
        local_client = MlflowClient(tracking_uri=f"sqlite:///{local}/results/mlflow.db")
        summary = Path("results") / "summary" / "demo.csv"
        cluster = pd.read_csv(work / summary).set_index(["experiment", "dataset"])
        reference = pd.read_csv(local / summary).set_index(["experiment", "dataset"])
        assert list(cluster.index) == list(reference.index)
        job_ids = set()
        for name in reference.index:
            _same(comparable(cluster.loc[name]), comparable(reference.loc[name]))
            run = client.get_run(cluster.loc[name, "mlflow_run_id"])
            twin = local_client.get_run(reference.loc[name, "mlflow_run_id"])
            assert run.info.status == "FINISHED"
            job_ids.add(run.data.tags["slurm.job_id"])  # it ran as a SLURM job
            assert run.data.tags["slurm.cluster"] == "logreg-test"
            assert "slurm.job_id" not in twin.data.tags
            assert _metrics(run) == _metrics(twin), name
            # Runs log no tracking.* params: the same parameters, wherever they were tracked.
            assert run.data.params == twin.data.params, f"{name}: params differ"
            assert _artifacts(client, run) == _artifacts(local_client, twin), name
            _no_secret(run, users)
        assert len(job_ids) == len(reference.index), "two runs share a SLURM job"

        # The sweep: a parent run on the submit host, one child per point, each a SLURM job,
        # and the unpenalized child is the workflow's gaussian_clouds run, metric for metric.
        experiment = client.get_experiment_by_name("gaussian_clouds")
        sweep_runs = client.search_runs(
            [experiment.experiment_id], filter_string="tags.source = 'sweep'"
        )
        assert len(sweep_runs) == 1, outputs["sweep through submitit"][-3000:]
        parent = sweep_runs[0]
        assert parent.info.status == "FINISHED"
        children = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
        assert sorted(c.data.params["penalty.l2"] for c in children) == ["0.0", "0.001"]
        for child in children:
            assert child.info.status == "FINISHED"
            assert child.data.tags["slurm.job_id"] not in job_ids
            assert child.data.tags["slurm.array_task_id"] in ("0", "1")  # a job array
            _no_secret(child, users)
        unpenalized = next(c for c in children if c.data.params["penalty.l2"] == "0.0")
        clouds = cluster.loc[("gaussian_clouds", "generated"), "mlflow_run_id"]
        workflow_twin = client.get_run(clouds)
        assert _metrics(unpenalized) == _metrics(workflow_twin)

        # Served models load from the server, with the job's credentials.
        loaded = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, mlflow; mlflow.pyfunc.load_model(sys.argv[1]); print('loaded')",
                cluster.loc[("reviews", "demo/electronics"), "model_uri"],
            ],
            env=alice,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert loaded.returncode == 0 and "loaded" in loaded.stdout, loaded.stderr[-3000:]

        # bob reads alice's runs (default READ) but cannot delete them.
        os.environ.update(MLFLOW_TRACKING_USERNAME="bob", MLFLOW_TRACKING_PASSWORD=users["bob"])
        from mlflow.exceptions import MlflowException

        victim = cluster.loc[("reviews", "demo/kitchen_&_housewares"), "mlflow_run_id"]
        assert MlflowClient(tracking_uri=uri).get_run(victim).info.status == "FINISHED"
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied|403"):
            MlflowClient(tracking_uri=uri).delete_run(victim)
        os.environ.update(MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD=users["alice"])
        assert client.get_run(victim).info.lifecycle_stage == "active"
    finally:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(name, None)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    differ = {k: (a[k], b[k]) for k in a if not (a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]))}
    assert not differ, differ


def _metrics(run) -> dict:
    return {k: v for k, v in run.data.metrics.items() if not k.endswith("seconds")}


def _artifacts(client, run) -> list[str]:
    return sorted(a.path for a in client.list_artifacts(run.info.run_id))


def _no_secret(run, users: dict) -> None:
    values = [*run.data.params.values(), *run.data.tags.values()]
    for password in users.values():
        assert not any(password in str(v) for v in values), run.info.run_id
