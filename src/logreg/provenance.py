"""Where a run came from: code version, package versions, input data hashes, batch job."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Batch-scheduler variables recorded as run tags when set: which SLURM job ran the run.
SLURM_TAGS = {
    "SLURM_JOB_ID": "slurm.job_id",
    "SLURM_ARRAY_JOB_ID": "slurm.array_job_id",
    "SLURM_ARRAY_TASK_ID": "slurm.array_task_id",
    "SLURM_CLUSTER_NAME": "slurm.cluster",
    "SLURM_JOB_PARTITION": "slurm.partition",
    "SLURMD_NODENAME": "slurm.node",
}
PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "hydra-core",
    "mlflow",
    "snakemake",
    "beautifulsoup4",
    "lxml",
    "logreg",
)


def git_state(repo: Path = REPO_ROOT) -> dict[str, str]:
    """``git_commit`` and ``git_dirty`` ("true"/"false"), or "unknown" outside a checkout."""

    def git(*args: str) -> str:
        # A fixed argument list, never a shell: nothing from a config reaches it.
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": str(dirty).lower()}


def git_diff_sha256(repo: Path = REPO_ROOT) -> str:
    """sha256 of ``git diff HEAD`` (tracked files, as ``git_dirty`` counts them): two runs
    of one commit with the same digest ran the same code; "unknown" outside a checkout."""
    try:
        diff = subprocess.run(
            ["git", "-C", str(repo), "diff", "HEAD", "--binary", "--no-ext-diff", "--no-textconv"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return hashlib.sha256(diff).hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def batch_job(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Tags naming the SLURM job this process runs in (``slurm.job_id``, ...); {} outside one."""
    return {tag: environ[name] for name, tag in SLURM_TAGS.items() if environ.get(name)}
