"""Helpers of the hostile-input tests: running entry points, snapshots, the errors table.

Every test that provokes an error passes what the user saw to :func:`record`. With
``LOGREG_WRITE_ERRORS_MD=1`` the session then rewrites ``docs/errors.md`` from those
real runs; otherwise each recorded line is checked against the table, so the table
cannot silently drift from the messages:

    LOGREG_WRITE_ERRORS_MD=1 .venv/bin/python -m pytest tests/hostile

(run the whole folder: the table is rewritten from the cases of that session only).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from commands import SNAKEMAKE, run, snakemake  # noqa: F401  (re-exported to the tests)
from paths import REPO

ERRORS_MD = REPO / "docs" / "errors.md"
WRITE = os.environ.get("LOGREG_WRITE_ERRORS_MD") == "1"
SECTIONS = (
    "Review files",
    "FER2013 files",
    "Prepared datasets",
    "Training config",
    "Workflow config",
    "Faults",
)

_recorded: dict[tuple[str, str], tuple[str, str]] = {}


def error_line(stderr: str) -> str:
    """The single ``error: ...`` line of an entry point's stderr."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, f"expected one 'error:' line, got {lines!r} in:\n{stderr[-3000:]}"
    return lines[0]


def _table_rows() -> dict[tuple[str, str], str]:
    """(section, case) -> message cell of the committed table."""
    rows, section = {}, None
    if not ERRORS_MD.is_file():
        return rows
    for line in ERRORS_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("| ") and section and not line.startswith("| case "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) == 3 and not set(cells[0]) <= {"-"}:
                rows[(section, cells[0])] = cells[2]
    return rows


def _cell(text: str) -> str:
    """A table cell: each line of ``text`` as inline code, lines joined by <br>."""
    return "<br>".join(
        "`" + line.replace("|", "\\|").replace("`", "'") + "`" for line in text.splitlines()
    )


def record(section: str, case: str, command: str, message: str) -> None:
    """Note what a user sees for ``case``; check it against ``docs/errors.md``."""
    assert section in SECTIONS, section
    _recorded[(section, case)] = (command, message)
    if WRITE:
        return
    documented = _table_rows().get((section, case))
    # A new case is added when the table is regenerated; a changed message must be.
    assert documented in (None, _cell(message)), (
        f"docs/errors.md is out of date for {case!r}: it shows {documented}, the run gave "
        f"{_cell(message)}; regenerate it (see tests/hostile/harness.py)"
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) -> its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary or half-written files the atomic writers would leave on a failure."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.name.endswith((".tmp", ".old", ".partial")) or ".tmp" in p.name
    )


def write_errors_md() -> None:
    """Rewrite ``docs/errors.md`` from the cases recorded in this session."""
    if not _recorded:
        return
    out = [
        "# What a user sees when the input is wrong",
        "",
        "Every row is a case of the hostile-input tests (`tests/hostile/`), the command "
        "that was run (from a scratch folder holding the bad file) and the line it "
        "printed. The exit status is 2 for the package's own entry points (`error: ...` "
        "lines), 1 for Hydra's and Snakemake's messages, 130 after Ctrl-C (SIGINT) or "
        "SIGTERM. Generated from the real runs:",
        "",
        "    LOGREG_WRITE_ERRORS_MD=1 .venv/bin/python -m pytest tests/hostile",
        "",
    ]
    for section in SECTIONS:
        # In the order the tests ran (file order): the corpus order, not alphabetical.
        rows = [(case, cmd, msg) for (sec, case), (cmd, msg) in _recorded.items() if sec == section]
        if not rows:
            continue
        out += [
            f"## {section}",
            "",
            "| case | command | what the user sees |",
            "| --- | --- | --- |",
        ]
        out += [f"| {case} | {_cell(cmd)} | {_cell(msg)} |" for case, cmd, msg in rows]
        out.append("")
    ERRORS_MD.parent.mkdir(parents=True, exist_ok=True)
    ERRORS_MD.write_text("\n".join(out), encoding="utf-8")


def hydra_message(stderr: str) -> str:
    """Hydra's own error message: its lines up to the search path and the HINT line."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith(("Config search path:", "Set the environment variable HYDRA")):
            break
        if line.strip():
            lines.append(line.replace("\t", "    ").rstrip())
    return "\n".join(lines)
