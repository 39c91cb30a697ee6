"""Collect the runs' ``metrics.json`` files into one table, ``results/summary/<data>.csv``.

python -m logreg.experiment.summary --out results/summary/demo.csv results/runs/*/demo/metrics.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from logreg.cli import run_cli
from logreg.errors import DataError
from logreg.fileio import atomic_path

LEADING_COLUMNS = [
    "experiment",
    "dataset",
    "data_source",
    "task",
    "model",
    "penalty",
    "l1",
    "l2",
    "solver",
    "selection",
    "selection_edge",
    "n_iter",
    "converged",
    "test_accuracy",
    "test_f1",
    "test_auc",
    "test_accuracy_mean",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
    "indistinguishable_from_best",
    "val_accuracy",
    "train_accuracy",
    "nonzero_weights",
    "fit_seconds",
    "mlflow_run_id",
    "model_uri",
]


def summarize(metrics_files: Sequence[str | Path], out: str | Path) -> pd.DataFrame:
    """One row per run, the identity and headline metrics first; written atomically."""
    rows = []
    for path in metrics_files:
        try:
            rows.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", where=path, line=exc.lineno) from exc
    frame = pd.DataFrame(rows)
    # Which runs the best one does not beat beyond noise (paired on folds or test set).
    from logreg.experiment.compare import mark_ties

    files = [Path(p) for p in metrics_files]
    ties = mark_ties([f.parent for f in files if f.name == "metrics.json"])
    frame["indistinguishable_from_best"] = [ties.get(f.parent) for f in files]
    leading = [c for c in LEADING_COLUMNS if c in frame.columns]
    per_class = sorted(c for c in frame.columns if c not in leading)
    frame = frame[leading + per_class]
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    return frame


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m logreg.experiment.summary", description=__doc__
    )
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("metrics", nargs="+", help="metrics.json files of the runs")
    args = parser.parse_args(argv)
    summarize(args.metrics, args.out)


if __name__ == "__main__":
    run_cli(main)
