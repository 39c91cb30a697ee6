"""Running the project's commands as a user would: ``python -m ...`` and snakemake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paths import REPO

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run(
    args: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``args`` in ``cwd`` with MLflow's telemetry off; output captured as text."""
    full_env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The repository's workflow run in ``workdir`` (its data/ and results/ live there)."""
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    return run(command, cwd=workdir, timeout=timeout)
