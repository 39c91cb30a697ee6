"""Helpers for tests that start a server: a free port, a bounded wait, a clean stop, `make ui`."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from paths import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """End a process started in its own session, and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # the whole group is gone already
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children that outlived the leader
    except ProcessLookupError:
        pass  # none did


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline, last = time.monotonic() + timeout, "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with code {proc.returncode} before {url} "
                f"answered; its log ends:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise AssertionError(
        f"{url} did not answer 200 within {timeout:.0f} s (last: {last}); "
        f"server log ends:\n{log.read_text()[-3000:]}"
    )


@contextlib.contextmanager
def make_ui(store: str, tmp_path: Path):
    """`make ui` on ``store`` (its log in ``tmp_path``); yields the UI's base URL, stops the
    server at the end."""
    port, log = free_port(), tmp_path / "ui.log"
    # The Makefile's own recipe; STAMP= skips the venv check (this venv runs the test).
    command = [
        "make",
        "--no-print-directory",
        "-s",
        "-C",
        str(REPO),
        "ui",
        "STAMP=",
        f"BIN={Path(sys.executable).parent}",
        f"STORE={store}",
        f"PORT={port}",
    ]
    with log.open("w") as sink:
        server = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"),
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server, log, timeout=45)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)
    assert server.poll() is not None
