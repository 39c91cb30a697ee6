"""What differs between a recorded run and its rerun, bit for bit.

Compared: the arrays of ``model.npz`` (byte for byte, so a NaN threshold equals a NaN
threshold and -0.0 differs from 0.0), every table (``*.csv``: test predictions, history,
weights, confusion matrix, folds, selection path) byte for byte, and the values of
``metrics.json`` except those that describe the occasion rather than the result:
:data:`EXCLUDED_METRICS`. Figures are not compared: they are drawn from the tables.
"""

from __future__ import annotations

import fnmatch
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODEL_FILE = "model.npz"
MODEL_ARRAYS = ("coef", "intercept", "class_names", "threshold")
# Timings differ from run to run; ids and URIs name the MLflow run (a rerun has none).
EXCLUDED_METRICS = ("*_seconds", "mlflow_run_id", "model_uri")
ABSENT = "(absent)"
_MISSING = object()
CELL_WIDTH = 70


@dataclass
class Comparison:
    """``differences`` rows are (name, recorded, reproduced); empty when identical."""

    compared: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    differences: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def table(self) -> str:
        rows = [("name", "recorded", "reproduced"), *self.differences]
        rows = [tuple(_cut(cell) for cell in row) for row in rows]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows
        )


def _cut(text: str) -> str:
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 3] + "..."


def _show(value: object) -> str:
    if value is _MISSING:
        return ABSENT
    return repr(value.item() if isinstance(value, np.generic) else value)


def _array_difference(a: np.ndarray, b: np.ndarray) -> tuple[str, str] | None:
    """(recorded, reproduced) descriptions of how ``a`` and ``b`` differ, None if not."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{a.dtype} {a.shape}", f"{b.dtype} {b.shape}"
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if a.tobytes() == b.tobytes():
        return None
    item = a.dtype.itemsize
    bytes_a = np.frombuffer(a.tobytes(), np.uint8).reshape(a.size, item)
    bytes_b = np.frombuffer(b.tobytes(), np.uint8).reshape(b.size, item)
    differing = np.flatnonzero((bytes_a != bytes_b).any(axis=1))
    index = np.unravel_index(differing[0], a.shape)
    at = f"[{', '.join(map(str, index))}] = " if a.ndim else ""
    return (
        f"{at}{_show(a[index])}",
        f"{at}{_show(b[index])} ({differing.size} of {a.size} values differ)",
    )


def _load_model(folder: Path) -> dict[str, np.ndarray] | None:
    path = folder / MODEL_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def compare_model(recorded: Path, reproduced: Path, result: Comparison) -> None:
    old, new = _load_model(recorded), _load_model(reproduced)
    if old is None or new is None:
        result.differences.append(
            (MODEL_FILE, "present" if old else ABSENT, "present" if new else ABSENT)
        )
        return
    names = [*MODEL_ARRAYS, *sorted((set(old) | set(new)) - set(MODEL_ARRAYS))]
    for name in names:
        if name not in old and name not in new:
            continue
        if name not in old or name not in new:
            shown = (ABSENT, "present") if name not in old else ("present", ABSENT)
            result.differences.append((f"{MODEL_FILE}:{name}", *shown))
            continue
        difference = _array_difference(old[name], new[name])
        if difference is not None:
            result.differences.append((f"{MODEL_FILE}:{name}", *difference))
    result.compared.append(f"{MODEL_FILE} ({', '.join(n for n in names if n in old)})")


def _table_difference(old: bytes, new: bytes) -> tuple[str, str]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    differing = [
        i
        for i in range(max(len(old_lines), len(new_lines)))
        if old_lines[i : i + 1] != new_lines[i : i + 1]
    ]
    first = differing[0]

    def line(lines: list[bytes]) -> str:
        return lines[first].decode(errors="replace") if first < len(lines) else "(no line)"

    return (
        f"line {first + 1}: {line(old_lines)}",
        f"line {first + 1}: {line(new_lines)} ({len(differing)} of "
        f"{max(len(old_lines), len(new_lines))} lines differ)",
    )


def compare_tables(recorded: Path, reproduced: Path, result: Comparison) -> None:
    names = sorted(
        {p.name for p in recorded.glob("*.csv")} | {p.name for p in reproduced.glob("*.csv")}
    )
    for name in names:
        old, new = recorded / name, reproduced / name
        if not old.is_file() or not new.is_file():
            shown = (ABSENT, "present") if not old.is_file() else ("present", ABSENT)
            result.differences.append((name, *shown))
            continue
        old_bytes, new_bytes = old.read_bytes(), new.read_bytes()
        if old_bytes != new_bytes:
            result.differences.append((name, *_table_difference(old_bytes, new_bytes)))
    result.compared.extend(names)


def excluded(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in EXCLUDED_METRICS)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, str)


def same_value(a: object, b: object) -> bool:
    """Equal bit for bit: floats by their 8 bytes (any NaN equals any NaN), else ``==``."""
    if _number(a) and _number(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        fa, fb = float(a), float(b)
        return (math.isnan(fa) and math.isnan(fb)) or struct.pack("<d", fa) == struct.pack("<d", fb)
    return type(a) is type(b) and a == b


def compare_metrics(
    recorded: Mapping[str, object],
    reproduced: Mapping[str, object],
    result: Comparison,
    *,
    numbers_only: bool = False,
) -> None:
    """Compare every value but :data:`EXCLUDED_METRICS`. ``numbers_only``: the record
    holds the numeric values only (an MLflow run's metrics, which also hold curves that
    ``metrics.json`` does not), so just the reproduced numbers it also holds are compared."""
    if numbers_only:
        keys = [k for k, v in reproduced.items() if _number(v) and k in recorded]
    else:
        keys = [*recorded, *(k for k in reproduced if k not in recorded)]
    result.excluded = sorted(k for k in keys if excluded(k))
    keys = [k for k in keys if not excluded(k)]
    source = "MLflow metrics" if numbers_only else "metrics.json"
    for key in keys:
        old, new = recorded.get(key, _MISSING), reproduced.get(key, _MISSING)
        if not same_value(old, new):
            result.differences.append((f"{source}:{key}", _show(old), _show(new)))
    result.compared.append(f"{source} ({len(keys)} values)")
