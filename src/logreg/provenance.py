"""Where a run came from: code version, package versions, input data hashes, batch job."""

from __future__ import annotations

import functools
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


# --- code versions: what the workflow's rerun triggers hash ------------------------------
PACKAGE_DIR = Path(__file__).resolve().parent
# The pinned environment: a changed lock file changes every code version.
LOCK_FILE = REPO_ROOT / "requirements.lock"


def module_file(name: str) -> Path | None:
    """The source file of module ``logreg.x.y`` (a package's ``__init__.py``), or None when
    ``name`` is no module of the package (e.g. a function imported by name)."""
    parts = name.split(".")
    if parts[0] != "logreg":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_name(base.name + ".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_package_modules(path: Path) -> frozenset[str]:
    """The ``logreg`` modules that the file ``path`` imports, function-level imports included.

    ``from logreg.a import b`` imports module ``logreg.a.b`` when that is a module, else
    the name ``b`` of module ``logreg.a``. A package's ``__init__`` counts only when it is
    imported itself: it runs first, but what it re-exports is used through its own module.
    """
    return _imports_of(path.read_bytes(), str(path))


@functools.cache
def _imports_of(source: bytes, filename: str) -> frozenset[str]:
    # Keyed by the file's bytes: the workflow asks for several code versions that share
    # most modules, and each file is parsed once per content.
    import ast

    found = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if module_file(submodule) else node.module)
    return frozenset(name for name in found if module_file(name) is not None)


def code_files(*modules: str) -> list[Path]:
    """Every source file the modules run: ``modules`` and all they import, transitively."""
    seen: dict[str, Path] = {}
    pending = list(modules)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            raise ValueError(f"no module {name} in {PACKAGE_DIR}")
        seen[name] = path
        pending.extend(imported_package_modules(path) - seen.keys())
    return sorted(seen.values())


def code_version(*modules: str, entry: str | None = None) -> str:
    """sha256 (first 16 hex digits) of the code a result depends on.

    Covers the source files of ``modules`` and of every package module they import
    (:func:`code_files`), the file of the command-line ``entry`` module that calls them
    (its argument parsing, not the other commands it dispatches to), the package's
    resources (stop words, checksums) and the pinned environment (``requirements.lock``).
    A comment counts: any byte that changes may change what runs. Anything else in the
    repository (README, docs, tests) does not.
    """
    import hashlib

    files = [*code_files(*modules), *sorted((PACKAGE_DIR / "resources").glob("*"))]
    if entry is not None:
        files.append(module_file(entry))
    if LOCK_FILE.is_file():
        files.append(LOCK_FILE)
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(REPO_ROOT) if REPO_ROOT in path.parents else path.name
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
