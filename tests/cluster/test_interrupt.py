"""A terminated test run leaves nothing running.

`timeout make test` (what a CI time-out does) sends SIGTERM to the whole process group of
`make test`; Ctrl-C sends SIGINT to it. The cluster test is the worst moment for either: it
has started munged, MariaDB, slurmdbd, slurmctld and slurmd, PostgreSQL and an MLflow
server, all in sessions of their own that the signal does not reach. This runs `make test`
on the cluster test alone, sends the signal to its group once every one of those is up and
the workflows run, and then finds none of them left (nor the test's folder).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from test_cluster import pytestmark as cluster_marks

from paths import REPO

pytestmark = cluster_marks
# What the cluster test starts, by process name (/proc/<pid>/comm, at most 15 characters).
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "postgres")
MARKER = "LOGREG_TERMINATED_RUN"


def marked_processes(token: str) -> dict[int, str]:
    """pid -> (name, command line) of the live processes whose environment holds the
    marker: everything the test run started, however far it detached itself."""
    found = {}
    needle = f"{MARKER}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                continue  # exited, waiting for its parent to read its status
            name = (entry / "comm").read_text().strip()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:150]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found[int(entry.name)] = f"{name}: {command}"
    return found


def names(processes: dict[int, str]) -> set[str]:
    return {description.split(":", 1)[0] for description in processes.values()}


def test_sigterm_during_the_cluster_test_leaves_no_daemon(tmp_path):
    # SIGTERM only: tests/conftest.py turns it into the KeyboardInterrupt that Ctrl-C's
    # SIGINT raises by itself, so the two take the same way out from there on (checked
    # by hand with SIGINT: nothing left either; the test costs ~45 s).
    signum = signal.SIGTERM
    token = uuid.uuid4().hex
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("logreg-cl-*"))
    log = tmp_path / "make-test.log"
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(REPO),
        "test",
        "STAMP=",  # this venv runs the test: no reinstall check
        f"BIN={Path(sys.executable).parent}",
        "PYTEST_ARGS=-p no:cacheprovider tests/cluster/test_cluster.py",
    ]
    with log.open("w") as sink:
        run = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, **{MARKER: token}),
            start_new_session=True,  # its own process group, as under `timeout`
        )
    try:
        # Every daemon up, the MLflow server answering and the workflows started.
        deadline = time.monotonic() + 240
        while True:
            running = marked_processes(token)
            commands = " ".join(running.values())
            if set(DAEMONS) <= names(running) and all(
                what in commands for what in ("mlflow server", "snakemake", "logreg.train")
            ):
                break
            assert run.poll() is None, f"the test run ended first:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"not all of {DAEMONS}, the MLflow server, a workflow and the sweep were up "
                f"after 240 s; running: "
                f"{sorted(names(running))}; log ends:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.5)
        time.sleep(3)  # a few jobs in the queue
        os.killpg(run.pid, signum)
        run.wait(timeout=240)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    output = log.read_text()
    # Daemons stop asynchronously after their pid files are gone: a few seconds' grace.
    deadline = time.monotonic() + 20
    while (left := marked_processes(token)) and time.monotonic() < deadline:
        time.sleep(0.5)
    created = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("logreg-cl-*")) - before
    # What this test finds left, it removes, so that a failure does not leak either.
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for folder in created:
        shutil.rmtree(folder, ignore_errors=True)

    assert not left, f"left running after {signum.name}:\n" + "\n".join(
        f"{pid} {what}" for pid, what in sorted(left.items())
    )
    assert not created, f"the test's folders were left: {sorted(map(str, created))}"
    assert run.returncode != 0, output[-3000:]
    assert "KeyboardInterrupt" in output, output[-3000:]
