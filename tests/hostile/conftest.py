"""Fixtures of the hostile-input tests; writes docs/errors.md when asked (see harness)."""

from __future__ import annotations

import logging
import sys

import harness
import pytest


def pytest_sessionfinish(session, exitstatus):
    if harness.WRITE:
        harness.write_errors_md()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in ``tmp_path`` so messages show the short relative paths a user typed."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def train_cli(in_tmp, capsys, monkeypatch):
    """``python -m logreg.train ARGV`` in-process (Hydra's main reads sys.argv).

    Returns ``(exit status, message)``: the ``error:`` line for the package's own
    errors and for overrides that do not compose (status 2), Hydra's message otherwise.
    """
    import logreg.train as train

    def call(argv: list[str]) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["python -m logreg.train", "progress=false", *argv])
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            with pytest.raises(SystemExit) as info:
                train.cli()
        finally:  # Hydra configures the root logger for the job; undo it
            root.handlers[:] = handlers
            root.setLevel(level)
        stderr = capsys.readouterr().err
        code = info.value.code
        if code == 2:
            return code, harness.error_line(stderr)
        return code, harness.hydra_message(stderr)

    return call
