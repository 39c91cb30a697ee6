"""Where a run came from: code version, package versions, input data hashes."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
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


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
