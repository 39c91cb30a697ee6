"""Collect the runs' ``metrics.json`` files into the answer of a workflow: which experiment
is best on each dataset, and by how much.

Beside ``results/summary/<data>.csv`` (every column of every run) it writes
``<data>.short.csv`` (what a reader compares, :data:`SHORT_COLUMNS`) and ``<data>.png``
(a forest plot: accuracy with its interval per experiment and dataset, the best marked,
those not distinguishable from it shaded). With ``--tracking-uri`` the three files are
the artifacts of one MLflow run ``summary <data>`` in the experiment ``summary`` (it
replaces the previous one of that name), and the links to open are printed.

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
from logreg.experiment import headline
from logreg.fileio import atomic_path

LEADING_COLUMNS = [
    "experiment",
    "dataset",
    "data_source",
    "task",
    "features",
    "model",
    "penalty",
    "l1",
    "l2",
    "solver",
    "selection",
    "selection_edge",
    "evaluation",
    "n_iter",
    "converged",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "f1",
    "auc",
    "indistinguishable_from_best",
    "test_accuracy",
    "test_f1",
    "test_auc",
    "test_accuracy_mean",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
    "val_accuracy",
    "train_accuracy",
    "nonzero_weights",
    "fit_seconds",
    "mlflow_run_id",
    "model_uri",
]
#: The short summary: the runs' identity and answer, nothing else (19 columns).
SHORT_COLUMNS = [
    "experiment",
    "dataset",
    "task",
    "features",
    "model",
    "penalty",
    "solver",
    "l1",
    "l2",
    "evaluation",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "f1",
    "auc",
    "indistinguishable_from_best",
    "n_iter",
    "fit_seconds",
    "mlflow_run_id",
]


def companions(out: str | Path) -> tuple[Path, Path]:
    """The short summary and the forest plot beside ``out`` (``demo.csv``):
    ``demo.short.csv``, ``demo.png``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.short.csv"), out.with_suffix(".png")


def _read(path: str | Path) -> dict:
    try:
        row = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", where=path, line=exc.lineno) from exc
    if "test_accuracy_mean" in row or "test_accuracy" in row:
        # Runs made before the headline existed get it from the same columns.
        row = {**headline.scores(row), **row}
    return {"features": headline.features(row), **row}


def verdicts(frame: pd.DataFrame) -> pd.Series:
    """Each run against the others on its task and dataset: ``best`` (the highest
    accuracy), ``≈ best`` (a paired test cannot tell it from the best), ``< best`` (worse
    beyond noise), ``not paired`` (no run it can be paired with), ``only run``."""
    out = pd.Series("", index=frame.index, dtype=object)
    for _, rows in frame.groupby(["task", "dataset"], sort=False):
        best = rows["accuracy"].idxmax()
        for index, tied in rows["indistinguishable_from_best"].items():
            if len(rows) == 1:
                out[index] = "only run"
            elif index == best:
                out[index] = "best"
            elif tied is None or tied != tied:  # None, or NaN read from a CSV
                out[index] = "not paired"
            else:
                out[index] = "≈ best" if bool(tied) else "< best"
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def summarize(metrics_files: Sequence[str | Path], out: str | Path) -> pd.DataFrame:
    """One row per run, the identity and headline metrics first; written atomically with
    its short summary and forest plot (:func:`companions`). Returns the full table."""
    rows = [_read(path) for path in metrics_files]
    frame = pd.DataFrame(rows)
    # Which runs the best one does not beat beyond noise (paired on folds or test set).
    from logreg.experiment.compare import mark_ties

    files = [Path(p) for p in metrics_files]
    ties = mark_ties([f.parent for f in files if f.name == "metrics.json"])
    frame["indistinguishable_from_best"] = [ties.get(f.parent) for f in files]
    leading = [c for c in LEADING_COLUMNS if c in frame.columns]
    per_class = sorted(c for c in frame.columns if c not in leading)
    frame = frame[leading + per_class]
    short, picture = companions(out)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    _write_csv(frame[[c for c in SHORT_COLUMNS if c in frame.columns]], short)
    if {"task", "dataset", "accuracy", "accuracy_ci_low", "accuracy_ci_high"} <= set(frame):
        from logreg.experiment.plots import forest

        forest(frame.assign(verdict=verdicts(frame)), picture)
    _write_csv(frame, Path(out))  # last: the rule's main output marks a complete summary
    return frame


def _description(frame: pd.DataFrame, name: str, picture: str) -> str:
    """The summary run's note: the answer in a line, the picture, the best of each task
    and dataset."""
    lines = [
        f"Which experiment is best on each dataset of **{name}**, and by how much: "
        f"{len(frame)} runs, their accuracy with its interval (the table: `{name}.short.csv`).",
        "",
        f"![the forest plot]({picture})",
        "",
        "| task · dataset | best experiment | accuracy [interval] | not distinguishable |",
        "| --- | --- | --- | --- |",
    ]
    ranked = frame.assign(verdict=verdicts(frame))
    for (task, dataset), rows in ranked.groupby(["task", "dataset"], sort=False):
        best = rows.loc[rows["accuracy"].idxmax()]
        tied = [str(r["experiment"]) for _, r in rows.iterrows() if r["verdict"] == "≈ best"]
        lines.append(
            f"| {task} · {dataset} | {best['experiment']} ({best.get('features', '')}) | "
            f"{best['accuracy']:.4f} [{best['accuracy_ci_low']:.4f}, "
            f"{best['accuracy_ci_high']:.4f}] | {', '.join(tied) or '-'} |"
        )
    return "\n".join(lines)


def log_summary(frame: pd.DataFrame, out: str | Path, uri: str) -> None:
    """The summary as the MLflow run ``summary <data>`` (replacing the previous one), with
    the three files as artifacts; prints the links to open."""
    from logreg.experiment import views
    from logreg.experiment.tracking import NOTE, Tracker

    out = Path(out)
    name = out.stem
    tags = {"source": "summary", "summary": name}
    tracker = Tracker(uri, views.SUMMARY_EXPERIMENT, f"summary {name}", tags)
    client = tracker.client
    earlier = client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.summary = '{name}'", max_results=1000
    )
    for run in earlier:
        if run.info.run_id != tracker.run_id:
            tracker.retry(lambda r=run: client.delete_run(r.info.run_id), "replace the summary")
    for path in (out, *companions(out)):
        if path.is_file():
            tracker.retry(lambda p=path: client.log_artifact(tracker.run_id, str(p)), "upload")
    picture = f"get-artifact?path={name}.png&run_uuid={tracker.run_id}"
    tracker.set_tags({NOTE: _description(frame, name, picture)})
    tracker.finish()
    base = views.ui_base(uri)
    print(f"{ANSWER_HEADER}{companions(out)[1]} and {companions(out)[0]}")
    print(f"In MLflow{' (make ui)' if base == views.MAKE_UI else ''}: the summary run")
    print(f"  {views.run_url(base, tracker.experiment_id, tracker.run_id)}")
    shown = set()
    for run_id in frame.get("mlflow_run_id", pd.Series(dtype=str)).dropna():
        experiment_id = client.get_run(run_id).info.experiment_id if run_id else None
        if experiment_id is not None and experiment_id not in shown:
            shown.add(experiment_id)
            experiment = client.get_experiment(experiment_id).name
            print(f"  {experiment}: {views.experiment_url(base, experiment_id)}")


ANSWER_HEADER = "The answer: "


def logged_answer(log: str | Path) -> str:
    """The lines :func:`log_summary` printed into the summary's log: where the answer is
    (the workflow prints them when it ends); empty when there is no such log yet."""
    path = Path(log)
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    start = text.rfind(ANSWER_HEADER)
    return text[start:] if start >= 0 else ""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m logreg.experiment.summary", description=__doc__
    )
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--tracking-uri", help="log the summary as an MLflow run there")
    parser.add_argument("metrics", nargs="+", help="metrics.json files of the runs")
    args = parser.parse_args(argv)
    frame = summarize(args.metrics, args.out)
    if args.tracking_uri:
        log_summary(frame, args.out, args.tracking_uri)


if __name__ == "__main__":
    run_cli(main)
