"""The README's set-up and real-data commands are real: the Makefile targets exist and the
real-data command plans the whole workflow on the real data (dry run)."""

import subprocess
import sys
from pathlib import Path

import pytest

from paths import REPO, SHARED_DATA
from readme import bash_blocks


def commands(heading: str) -> list[str]:
    return [
        line.split("#")[0].strip()
        for block in bash_blocks(heading)
        for line in block.replace("\\\n", " ").splitlines()
        if line.split("#")[0].strip()
    ]


def test_the_two_set_up_commands_are_make_targets():
    assert commands("Quick start") == ["make run", "make test"]
    for command in commands("Quick start"):
        dry = subprocess.run(
            [*command.split(), "-n"], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0, dry.stderr


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")
def test_the_real_data_command_plans_every_run_on_the_real_data():
    (command,) = commands("Running on the real data")
    assert command.startswith(".venv/bin/snakemake ")
    snakemake = Path(sys.executable).with_name("snakemake")
    # A dry run of everything (--forceall: whatever results exist here) plans each
    # experiment on the real review domains and the real FER2013 file.
    argv = [str(snakemake), *command.split()[1:], "--dry-run", "--forceall"]
    plan = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    for output in (
        "results/runs/reviews/real/electronics/metrics.json",
        "results/runs/reviews/real/kitchen_&_housewares/metrics.json",
        "results/runs/faces_softmax/real/metrics.json",
        "results/summary/real.csv",
    ):
        assert output in plan.stdout, output
