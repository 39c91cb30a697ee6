"""The demo workflow run the workflow tests share: one complete run costs a minute, and
several test files only need to look at one (or at a copy of it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands import snakemake


@dataclass(frozen=True)
class DemoRun:
    workdir: Path  # where the run happened; tests of test_workflow.py go on using it
    finished: Path  # its results/, data/ and .snakemake/ as the run left them

    def copy_into(self, dest: Path) -> None:
        """Put the finished run into ``dest`` (a working copy of the repository), as if
        the workflow had run there."""
        for name in ("results", "data", ".snakemake"):
            shutil.copytree(self.finished / name, dest / name, symlinks=True, dirs_exist_ok=True)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    workdir = tmp_path_factory.mktemp("workflow")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    finished = tmp_path_factory.mktemp("demo-run-as-finished")
    for name in ("results", "data", ".snakemake"):
        shutil.copytree(workdir / name, finished / name, symlinks=True)
    return DemoRun(workdir, finished)
