"""The README's set-up commands are real Makefile targets (the real-data command runs in
tests/workflow/test_real_workflow.py)."""

import subprocess

from paths import REPO
from readme import commands


def test_the_two_set_up_commands_are_make_targets():
    assert commands("Quick start") == ["make run", "make test"]
    for command in commands("Quick start"):
        dry = subprocess.run(
            [*command.split(), "-n"], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0, dry.stderr
