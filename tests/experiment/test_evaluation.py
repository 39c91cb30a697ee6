"""A run's metrics and files, on a small hand-made dataset (no workflow, no MLflow)."""

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from PIL import Image

from logreg.data.prepared import PreparedDataset
from logreg.errors import DataError
from logreg.experiment import evaluation, plots
from logreg.experiment.summary import SHORT_COLUMNS, companions, summarize, verdicts
from logreg.linear.estimators import LogisticRegression, SoftmaxRegression


def _dataset(n_classes: int, rng, n_features: int = 4, **meta) -> PreparedDataset:
    X, y = {}, {}
    for split, n in (("train", 120), ("val", 60), ("test", 60)):
        y[split] = np.arange(n) % n_classes
        X[split] = rng.normal(size=(n, n_features)) + 1.5 * y[split][:, None]
    meta = {"kind": "reviews", "class_names": [f"c{k}" for k in range(n_classes)], **meta}
    return PreparedDataset(X=X, y=y, meta=meta)


def _cfg(threshold="val_f1"):
    return OmegaConf.create(
        {
            "dataset": {"path": None},
            "model": {"threshold": threshold, "threshold_value": 0.5},
            "tracking": {"top_words": 2},
        }
    )


def test_binary_evaluation_writes_every_file_and_tunes_the_threshold_on_validation(tmp_path):
    rng = np.random.default_rng(0)
    data = _dataset(2, rng, feature_names=["a", "b", "c", "d"])
    model = LogisticRegression(l2=0.01).fit(data.X["train"], data.y["train"])
    result = evaluation.evaluate(model, data, _cfg(), tmp_path)
    m = result.metrics
    for split in ("train", "val", "test"):
        assert 0.5 < m[f"{split}_accuracy"] <= 1 and m[f"{split}_loss"] > 0
    # The threshold maximizes F1 on validation; the test split never chooses it.
    from logreg.experiment import metrics

    p_val = model.predict_proba(data.X["val"])[:, 1]
    assert result.threshold == metrics.best_f1_threshold(data.y["val"], p_val)
    saved = np.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(saved["coef"], model.coef_)
    assert float(saved["threshold"]) == result.threshold
    assert (
        list(pd.read_csv(tmp_path / "top_words.csv")["direction"])
        == ["positive"] * 2 + ["negative"] * 2
    )
    assert len(pd.read_csv(tmp_path / "weights.csv")) == 4
    for name in ("learning_curves", "confusion_matrix", "roc", "top_words"):
        with Image.open(tmp_path / "figures" / f"{name}.png") as image:
            assert image.size[0] > 100, name


def test_multiclass_evaluation_reports_macro_f1_and_no_threshold(tmp_path):
    rng = np.random.default_rng(1)
    # FER2013's 48x48 pixels: the weight pictures are drawn by the pixels feature kind.
    data = _dataset(3, rng, 48 * 48, kind="faces", image_shape=[48, 48], features="pixels")
    model = SoftmaxRegression(l2=0.01).fit(data.X["train"], data.y["train"])
    result = evaluation.evaluate(model, data, _cfg(), tmp_path)
    assert result.threshold is None and "threshold" not in result.metrics
    assert result.metrics["test_f1"] == result.metrics["test_macro_f1"]
    cm = pd.read_csv(tmp_path / "confusion_matrix.csv").set_index("true")
    assert cm.to_numpy().sum() == 60
    assert (tmp_path / "figures" / "weight_images.png").is_file()
    assert not (tmp_path / "figures" / "roc.png").exists()


def test_plots_write_png_files_even_without_validation_curves(tmp_path):
    plots.learning_curves({"loss": [1.0, 0.5]}, tmp_path / "curves.png")
    plots.confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], tmp_path / "cm.png")
    plots.roc(np.array([0, 0.5, 1]), np.array([0, 0.9, 1]), 0.8, tmp_path / "roc.png")
    for name in ("curves", "cm", "roc"):
        with Image.open(tmp_path / f"{name}.png") as image:
            assert image.format == "PNG"


def test_summary_puts_identity_first_and_names_a_broken_file(tmp_path):
    rows = [
        {
            "test_accuracy": 0.9,
            "experiment": "b",
            "dataset": "demo/x",
            "data_source": "demo",
            "zeta": 1,
        },
        {
            "test_accuracy": 0.8,
            "experiment": "a",
            "dataset": "real/y",
            "data_source": "real",
            "alpha": 2,
        },
    ]
    files = []
    for i, row in enumerate(rows):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(row))
    frame = summarize(files, tmp_path / "summary" / "s.csv")
    assert list(frame.columns[:4]) == ["experiment", "dataset", "data_source", "features"]
    # Runs from before the headline get it from the same columns.
    assert list(frame["accuracy"]) == [0.9, 0.8] == list(frame["test_accuracy"])
    assert list(frame["experiment"]) == ["b", "a"]  # in the order given
    written = pd.read_csv(tmp_path / "summary" / "s.csv")
    assert list(written.columns) == list(frame.columns)
    (tmp_path / "bad.json").write_text('{"a": 1,\n "b": }')
    with pytest.raises(DataError, match=r"bad\.json:2: invalid JSON"):
        summarize([*files, tmp_path / "bad.json"], tmp_path / "summary" / "t.csv")
    assert not (tmp_path / "summary" / "t.csv").exists()


def _summary_row(experiment, task, dataset, accuracy, tied, **extra) -> dict:
    return {
        "experiment": experiment,
        "task": task,
        "dataset": dataset,
        "data_source": "demo",
        "model": "softmax",
        "penalty": "l2",
        "solver": "lbfgs",
        "l1": 0.0,
        "l2": 0.01,
        "evaluation": "holdout",
        "accuracy": accuracy,
        "accuracy_ci_low": accuracy - 0.05,
        "accuracy_ci_high": accuracy + 0.04,
        "f1": accuracy - 0.01,
        "auc": 0.9,
        "test_accuracy": accuracy,
        "test_precision_happy": 0.5,
        "n_iter": 30,
        "fit_seconds": 1.5,
        "mlflow_run_id": f"id-{experiment}",
        "indistinguishable_from_best": tied,
        "data.features": extra.pop("features", "hog"),
        **extra,
    }


def test_verdicts_name_the_best_of_each_task_and_dataset_and_its_ties():
    frame = pd.DataFrame(
        [
            _summary_row("pixels", "emotions", "demo", 0.38, False),
            _summary_row("hog", "emotions", "demo", 0.46, True),
            _summary_row("kmeans", "emotions", "demo", 0.45, True),
            _summary_row("other", "emotions", "demo", 0.30, None),
            # Another task on the same dataset name is another comparison.
            _summary_row("binary", "happy_vs_sad", "demo", 0.70, None),
            _summary_row("a", "reviews", "demo/x", 0.80, True),
            _summary_row("b", "reviews", "demo/x", 0.85, True),
        ]
    )
    assert list(verdicts(frame)) == [
        "< best",
        "best",
        "≈ best",
        "not paired",
        "only run",
        "≈ best",
        "best",
    ]


def test_summary_writes_a_short_table_and_a_forest_plot_beside_it(tmp_path):
    rows = [
        _summary_row("faces_softmax_pixels", "emotions", "demo", 0.38, False, features="pixels"),
        _summary_row("faces_softmax", "emotions", "demo", 0.46, True, features="kmeans"),
        _summary_row("faces_happy_vs_sad", "happy_vs_sad", "demo", 0.70, None),
    ]
    files = []
    for i, row in enumerate(rows):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(row))
    out = tmp_path / "summary" / "demo.csv"
    frame = summarize(files, out)
    short_path, picture = companions(out)
    assert (short_path.name, picture.name) == ("demo.short.csv", "demo.png")
    short = pd.read_csv(short_path)
    # What a reader compares, in that order: identity, the answer, the run's id.
    assert list(short.columns) == SHORT_COLUMNS and len(short.columns) <= 20
    assert list(short["features"]) == ["pixels", "kmeans", "hog"]
    assert list(short["accuracy"]) == list(frame["accuracy"])
    assert "test_precision_happy" in frame and "test_precision_happy" not in short
    with Image.open(picture) as image:
        assert image.format == "PNG"
        # One panel per task and dataset, one row per run: it grows with the rows.
        width, height = image.size
    assert width > 800 and height > 200
    summarize(files[:1], tmp_path / "one.csv")
    with Image.open(tmp_path / "one.png") as image:
        assert image.size[1] < height
