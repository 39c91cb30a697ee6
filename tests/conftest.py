"""Shared test set-up: the helper modules in this folder (``paths``, ``servers``) are
importable from every test folder, and a terminated test run cleans up after itself."""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _terminate_as_interrupt(signum, frame):
    # SIGTERM (a CI time-out, `kill`, `timeout make test`) would end the interpreter on the
    # spot: no `finally`, no fixture teardown, so the servers, PostgreSQL clusters and the
    # SLURM daemons tests start (in their own sessions, out of reach of the signal) would
    # outlive the run. As a KeyboardInterrupt it ends the run the way Ctrl-C does: every
    # teardown runs, pytest reports what it had and exits non-zero. A second SIGTERM is
    # ignored so that it cannot cut those teardowns short (each has its own time limit);
    # SIGKILL still ends everything at once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"terminated by signal {signum} (SIGTERM)")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
