"""Paired comparison of two runs: do they differ beyond noise?

``python -m logreg.compare RUN_A RUN_B`` takes run folders (``results/runs/...``, holding
``metrics.json``) or MLflow run ids (the files a comparison reads are downloaded from
``--tracking-uri`` into a temporary folder that lives as long as the comparison). Two
cross-validated runs on the same folds (same data, same ``evaluation`` seed, folds and
repeats) are compared fold by fold with the corrected resampled t-test of Nadeau and Bengio
(2003); otherwise two runs scored on the same test set are compared example by example with
the exact McNemar test and a paired bootstrap interval of the accuracy difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from logreg.errors import DataError
from logreg.experiment import statistics

# The files of a run that a comparison reads (an MLflow run's other artifacts stay put).
RUN_FILES = ("metrics.json", "config.yaml", "folds.csv", "test_predictions.csv")


@dataclass
class Run:
    """A run's record: ``metrics`` (``metrics.json``), ``config`` (``config.yaml``) and the
    folder holding its ``folds.csv`` / ``test_predictions.csv``; ``name`` is how the user
    named it (its folder, or its MLflow run id)."""

    folder: Path
    metrics: dict
    config: dict
    name: str = ""

    def __post_init__(self):
        self.name = self.name or str(self.folder)

    @property
    def folds(self) -> pd.DataFrame | None:
        path = self.folder / "folds.csv"
        return pd.read_csv(path) if path.is_file() else None

    @property
    def predictions(self) -> pd.DataFrame | None:
        path = self.folder / "test_predictions.csv"
        return pd.read_csv(path) if path.is_file() else None

    def fold_identity(self) -> tuple:
        e = self.config.get("evaluation", {})
        return (
            self.metrics.get("dataset"),
            self.metrics.get("data_source"),
            e.get("seed"),
            e.get("n_splits"),
            e.get("n_repeats"),
        )


def _read_config(folder: Path) -> dict:
    config_file = folder / "config.yaml"
    if not config_file.is_file():
        return {}
    return yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}


def load_run(ref: str | Path) -> Run:
    """A run from its folder (``metrics.json``, ``config.yaml``, ...)."""
    folder = Path(ref)
    if not (folder / "metrics.json").is_file():
        raise DataError("not a run folder (no metrics.json) nor an MLflow run id", where=ref)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return Run(folder, metrics, _read_config(folder))


def _download_run(run_id: str, tracking_uri: str, target: Path) -> Run:
    """The MLflow run ``run_id``: its compared files downloaded into ``target``.

    A run logs its folder before it writes ``metrics.json`` (written last, it marks a
    complete run), so without that file the record is rebuilt from what the store holds:
    the run's metrics, and the data's identity from its ``config.yaml``, as in
    ``metrics.json``.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from logreg.serving import artifact_store

    if (database := artifact_store.missing_store(tracking_uri)) is not None:
        raise DataError(
            f"no tracking store at {database} to look up the MLflow run {run_id}; "
            "give the store's --tracking-uri",
            where=tracking_uri,
        )
    artifact_store.register()
    client = MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
        logged = {item.path for item in client.list_artifacts(run_id)}
        for name in RUN_FILES:
            if name in logged:
                client.download_artifacts(run_id, name, str(target))
    except MlflowException as exc:
        first_line = (exc.message.strip().splitlines() or ["unknown error"])[0]
        raise DataError(
            f"cannot fetch MLflow run {run_id}: {first_line}", where=tracking_uri
        ) from exc
    config = _read_config(target)
    if (target / "metrics.json").is_file():
        metrics = json.loads((target / "metrics.json").read_text(encoding="utf-8"))
    else:
        dataset = config.get("dataset") or {}
        metrics = {
            "dataset": dataset.get("name"),
            "data_source": dataset.get("source"),
            "task": dataset.get("task"),
            **run.data.metrics,
        }
    return Run(target, metrics, config, name=f"MLflow run {run_id}")


@contextlib.contextmanager
def open_run(ref: str, tracking_uri: str | None = None) -> Iterator[Run]:
    """A run from its folder, or from an MLflow run id in the store ``tracking_uri``: its
    files are then downloaded into a temporary folder, removed when the block ends."""
    folder = Path(ref)
    if (folder / "metrics.json").is_file() or folder.exists() or tracking_uri is None:
        yield load_run(folder)
        return
    with tempfile.TemporaryDirectory(prefix="logreg-compare-") as target:
        yield _download_run(ref, tracking_uri, Path(target))


def compare_runs(a: Run, b: Run, metric: str = "accuracy", confidence: float = 0.95):
    """The paired test of ``a`` against ``b`` (difference A - B)."""
    folds_a, folds_b = a.folds, b.folds
    if (
        folds_a is not None
        and folds_b is not None
        and a.fold_identity() == b.fold_identity()
        and len(folds_a) == len(folds_b)
        and (folds_a["n_test"].to_numpy() == folds_b["n_test"].to_numpy()).all()
    ):
        column = f"test_{metric}"
        return statistics.corrected_resampled_ttest(
            folds_a[column],
            folds_b[column],
            n_train=float(folds_a["n_train"].mean()),
            n_test=float(folds_a["n_test"].mean()),
            confidence=confidence,
        )
    pred_a, pred_b = a.predictions, b.predictions
    if pred_a is None or pred_b is None:
        raise DataError(
            "the runs share neither CV folds (folds.csv with the same evaluation seed, "
            "folds and repeats) nor a test set (test_predictions.csv)",
            where=a.name,
        )
    if metric != "accuracy":
        raise DataError(f"on one test set only accuracy is compared, not {metric}", where=a.name)
    # Equal label sequences are not enough: two review domains' demo test sets share theirs.
    data_a, data_b = a.fold_identity()[:2], b.fold_identity()[:2]
    if data_a != data_b or len(pred_a) != len(pred_b) or (pred_a["label"] != pred_b["label"]).any():
        raise DataError(
            "the runs were scored on different test sets: A on {} ({} data), B ({}) on {} "
            "({} data)".format(*data_a, b.name, *data_b),
            where=a.name,
        )
    return statistics.mcnemar(pred_a["correct"], pred_b["correct"])


def report(a: Run, b: Run, test: statistics.PairedTest, metric: str) -> str:
    verdict = (
        "A and B differ beyond noise"
        if test.distinguishable
        else "A and B are not distinguishable from noise"
    )
    return (
        f"A: {a.name}\nB: {b.name}\n"
        f"test {metric} A - B: {test.mean_difference:+.4f}, "
        f"95% CI [{test.low:+.4f}, {test.high:+.4f}], p = {test.p_value:.3g} "
        f"({test.method})\n{verdict}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m logreg.compare", description=__doc__)
    parser.add_argument("run_a", help="run folder or MLflow run id")
    parser.add_argument("run_b", help="run folder or MLflow run id")
    parser.add_argument("--metric", default="accuracy", help="accuracy, f1, auc, loss")
    parser.add_argument("--tracking-uri", default="sqlite:///results/mlflow.db")
    args = parser.parse_args(argv)
    with open_run(args.run_a, args.tracking_uri) as a, open_run(args.run_b, args.tracking_uri) as b:
        print(report(a, b, compare_runs(a, b, args.metric), args.metric))


def _group_key(run: Run) -> tuple | None:
    """Runs with equal keys can be paired: the same folds, or the same test labels."""
    task = run.metrics.get("task")
    if run.folds is not None:
        return ("cv", task, *run.fold_identity())
    predictions = run.predictions
    if predictions is not None:
        labels = predictions["label"].to_numpy()
        return ("holdout", task, *run.fold_identity()[:2], labels.size, labels.tobytes())
    return None


def mark_ties(folders: Sequence[str | Path], metric: str = "accuracy") -> dict[Path, object]:
    """For each run folder: True when its test ``metric`` is not distinguishable from the
    best run's among those it can be paired with (same CV folds, or the same test set;
    the best run itself is True), False when it is worse beyond noise, None when it
    cannot be paired with any other run."""
    runs = [load_run(str(folder)) for folder in folders]
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        key = _group_key(run)
        if key is not None:
            groups.setdefault(key, []).append(run)
    marks: dict[Path, object] = {run.folder: None for run in runs}
    for members in groups.values():
        if len(members) < 2:
            continue
        best = max(members, key=lambda r: r.metrics.get(f"test_{metric}_mean", -1.0))
        for run in members:
            try:
                tied = run is best or not compare_runs(run, best, metric).distinguishable
            except DataError:  # e.g. folds of other sizes: these two cannot be paired
                tied = None
            marks[run.folder] = tied
    return marks
