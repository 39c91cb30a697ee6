"""Where raw data comes from, and the names results and runs give it.

A *source* is one collection of raw data: a review folder (``<root>/<domain>/
{positive,negative}.review``) or a FER2013 file or folder. Its name keys every result
derived from it (``results/data/<kind>/<name>/...``, run folders, MLflow tags), so
results of different data never share a folder: the bundled demo data is ``demo``, any
other source ``<folder or file stem>-<6 hex digits of its absolute path's sha256>``
unless the user names it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

DEMO = "demo"
GENERATED = "generated"
"""The source name of data drawn from the seed (the Gaussian clouds)."""
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
REVIEW_FILES = ("positive.review", "negative.review")


def source_name(
    path: str | os.PathLike, demo_path: str | os.PathLike, name: str | None = None, *, key: str
) -> str:
    """The name of the source at ``path``: ``name`` if given, else derived (see module).

    Raises
    ------
    ValueError
        If ``name`` is not a plain name, or claims ``demo`` for other data; the message
        names the workflow config ``key`` that set it.
    """
    is_demo = os.path.realpath(path) == os.path.realpath(demo_path)
    if name is not None:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"workflow config key {key}: {name!r} is not a plain name "
                "(letters, digits, '_', '.', '-')"
            )
        if name in (DEMO, GENERATED) and not is_demo:
            raise ValueError(
                f"workflow config key {key}: {name!r} is reserved for the "
                f"bundled demo data, and {path} is other data"
            )
        return name
    if is_demo:
        return DEMO
    stem = Path(os.path.realpath(path)).name
    for suffix in (".gz", ".csv"):
        stem = stem.removesuffix(suffix)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "data"
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:6]
    return f"{stem}-{digest}"


def review_domains(root: str | os.PathLike) -> list[str]:
    """The domains under a review folder: subfolders holding both review files, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        child.name
        for child in root.iterdir()
        if child.is_dir() and all((child / f).is_file() for f in REVIEW_FILES)
    )


def missing_review_files(root: str | os.PathLike, domains: list[str]) -> list[str]:
    """The review files of ``domains`` that do not exist under ``root``."""
    return [
        os.path.join(root, domain, f)
        for domain in domains
        for f in REVIEW_FILES
        if not os.path.isfile(os.path.join(root, domain, f))
    ]
