"""Shared test set-up: the helper modules in this folder (``paths``, ``servers``) are
importable from every test folder, and a terminated test run cleans up after itself."""

import signal
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _ctrl_c_not_ignored():
    """Every test starts with Ctrl-C handled, so the processes it starts do not ignore it.

    A process inherits an ignored SIGINT (a test run started in the background by a
    non-interactive shell, `nohup ... &`, some CI runners, or anything in the test process
    that left it ignored): the tests that press Ctrl-C on a training run, a sweep or the
    workflow then saw it finish with status 0 instead of stopping with 130 (a clean-clone
    CI run started that way). Ctrl-C is what they test, so the test process takes it back.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
