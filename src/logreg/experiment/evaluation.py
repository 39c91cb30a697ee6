"""Evaluate a fitted model on every split and write the run's files.

Written into the run folder (and uploaded to MLflow as artifacts): ``model.npz``
(weights, intercept, classes, threshold), ``weights.csv`` (one row per feature),
``history.csv``, ``confusion_matrix.csv``, ``top_words.csv`` (reviews), and the figures
in ``figures/``: ``learning_curves.png``, ``confusion_matrix.png``, and per kind
``top_words.png`` + ``roc.png`` (binary) or ``weight_images.png`` (faces; plus the figures
a feature kind wrote into the prepared folder, e.g. ``kmeans_centroids.png``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from logreg.data.prepared import SPLITS, PreparedDataset
from logreg.experiment import metrics, plots
from logreg.fileio import atomic_path

FIGURES = "figures"  # the run's pictures, a folder of their own (the workflow's report)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    threshold: float | None
    test_proba: np.ndarray  # (n_test, n_classes): what the holdout interval is drawn from


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean cross-entropy; probabilities are floored at 1e-300 so log never sees 0."""
    picked = proba[np.arange(y.shape[0]), y]
    return float(-np.mean(np.log(np.maximum(picked, 1e-300))))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def evaluate(
    estimator,
    dataset: PreparedDataset,
    cfg: DictConfig,
    output_dir: Path,
    history_note: str | None = None,
    release: bool = False,
) -> Evaluation:
    """Metrics on train/val/test (``<split>_<metric>``) and the run's files;
    ``history_note`` titles the learning curves (where the fit started, if not at zero).

    With ``release``, each split's X is let go once it is scored
    (:meth:`PreparedDataset.release`), before the next split is read: the test split is
    then never held together with the training split.
    """
    class_names = dataset.class_names
    binary = len(class_names) == 2
    proba = {}
    for split in SPLITS:
        proba[split] = estimator.predict_proba(dataset.X[split])
        if release:
            dataset.release(split)
    threshold = None
    if binary:
        threshold = (
            metrics.best_f1_threshold(dataset.y["val"], proba["val"][:, 1])
            if cfg.model.get("threshold", "fixed") == "val_f1"
            else float(cfg.model.get("threshold_value", 0.5))
        )
    out: dict[str, float] = {}
    for split in SPLITS:
        y, p = dataset.y[split], proba[split]
        scores = (
            metrics.binary_metrics(y, p[:, 1], threshold)
            if binary
            else metrics.multiclass_metrics(y, p, class_names)
        )
        if not binary:
            scores["f1"] = scores["macro_f1"]
        scores["loss"] = log_loss(y, p)
        out.update({f"{split}_{k}": v for k, v in scores.items()})
    if threshold is not None:
        out["threshold"] = threshold
    coef = np.asarray(estimator.coef_)
    out["nonzero_weights"] = int(np.count_nonzero(coef))
    out["weight_sparsity"] = float(1 - np.count_nonzero(coef) / coef.size)
    if "feature_seconds" in dataset.meta:  # faces: the data stage's feature pass
        out["feature_seconds"] = float(dataset.meta["feature_seconds"])
    _write_files(
        estimator,
        dataset,
        proba,
        threshold,
        output_dir,
        cfg.tracking.top_words,
        history_note,
    )
    if dataset.meta.get("kind") == "faces":
        from logreg.data.faces.feature_kinds import Concatenation

        for prefix, part, _ in Concatenation.from_meta(dataset.meta).blocks():
            for name in part.figure_names(prefix):
                figure = Path(cfg.dataset.get("path") or ".") / name
                if figure.is_file():  # logged with the run
                    shutil.copyfile(figure, output_dir / FIGURES / name)
    return Evaluation(metrics=out, threshold=threshold, test_proba=proba["test"])


def _write_files(
    estimator,
    dataset: PreparedDataset,
    proba: dict[str, np.ndarray],
    threshold: float | None,
    output_dir: Path,
    n_top_words: int,
    history_note: str | None,
) -> None:
    class_names = dataset.class_names
    (output_dir / FIGURES).mkdir(exist_ok=True)
    coef, intercept = np.asarray(estimator.coef_), np.asarray(estimator.intercept_)
    with atomic_path(output_dir / "model.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                coef=coef,
                intercept=intercept,
                class_names=np.array(class_names),
                threshold=np.array(np.nan if threshold is None else threshold),
            )
    history = pd.DataFrame(estimator.history_)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    _write_csv(history, output_dir / "history.csv")
    plots.learning_curves(
        estimator.history_, output_dir / FIGURES / "learning_curves.png", history_note
    )

    y_test, p_test = dataset.y["test"], proba["test"]
    predicted = (
        (p_test[:, 1] >= threshold).astype(np.int64)
        if threshold is not None
        else np.argmax(p_test, axis=1)
    )
    cm = metrics.confusion_matrix(y_test, predicted, len(class_names))
    _write_csv(
        pd.DataFrame(cm, index=class_names, columns=class_names).rename_axis("true").reset_index(),
        output_dir / "confusion_matrix.csv",
    )
    plots.confusion(cm, class_names, output_dir / FIGURES / "confusion_matrix.png")

    feature_names = dataset.meta.get("feature_names")
    if feature_names is not None:
        columns = ["weight"] if coef.shape[0] == 1 else [f"weight_{c}" for c in class_names]
        weights = pd.DataFrame(coef.T, columns=columns)
        weights.insert(0, "feature", feature_names)
        _write_csv(weights, output_dir / "weights.csv")
    if threshold is not None:
        fpr, tpr, _ = metrics.roc_curve(y_test, p_test[:, 1])
        plots.roc(fpr, tpr, metrics.roc_auc(y_test, p_test[:, 1]), output_dir / FIGURES / "roc.png")
        if feature_names is not None and dataset.meta.get("kind") == "reviews":
            _top_words(coef[0], feature_names, output_dir, n=n_top_words)
    if dataset.meta.get("image_shape"):
        if coef.shape[0] == 1:  # binary: one image, positive = the second class
            titles = [f"{class_names[1]} (+) vs {class_names[0]} (-)"]
        else:
            titles = class_names
        picture = _weight_pictures(coef, dataset.meta)
        if picture is not None:  # None: no feature kind of the run draws its weights
            images, caption = picture
            plots.weight_images(images, titles, output_dir / FIGURES / "weight_images.png", caption)


def _weight_pictures(coef: np.ndarray, meta: dict) -> tuple[np.ndarray, str | None] | None:
    """Each class's weights as a picture, drawn by the feature kind of its columns: the
    48x48 image of pixel weights, HOG glyphs (:func:`logreg.data.faces.hog.glyph_image`),
    k-means region weights (:func:`logreg.data.faces.kmeans.region_image`), ... For a
    concatenation, the last kind that draws one."""
    from logreg.data.faces.feature_kinds import Concatenation

    transform = Concatenation.from_meta(meta)
    for prefix, part, columns in reversed(transform.blocks()):
        picture = part.weight_pictures(coef[:, columns])
        if picture is not None:
            images, caption = picture
            if caption is not None and len(transform.parts) > 1:
                caption = f"{caption} ({prefix} columns of {transform.spec})"
            return images, caption
    return None


def _top_words(weights: np.ndarray, feature_names: list[str], output_dir: Path, n: int) -> None:
    """The ``n`` most positive and ``n`` most negative words with their weights."""
    order = np.argsort(weights, kind="stable")
    negative, positive = order[:n], order[::-1][:n]
    rows = [("positive", feature_names[i], float(weights[i])) for i in positive] + [
        ("negative", feature_names[i], float(weights[i])) for i in negative
    ]
    _write_csv(
        pd.DataFrame(rows, columns=["direction", "word", "weight"]), output_dir / "top_words.csv"
    )
    picked = np.r_[positive, negative]
    plots.top_words(
        [feature_names[i] for i in picked], weights[picked], output_dir / FIGURES / "top_words.png"
    )
