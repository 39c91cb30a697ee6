"""Figures logged with every run: learning curves, ROC, confusion matrix, top words,
weight images; and the summary's forest plot of every run's accuracy. Each function writes
one PNG and returns nothing; matplotlib runs headless.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from logreg.fileio import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def learning_curves(
    history: dict[str, list[float]], path: str | os.PathLike, note: str | None = None
) -> None:
    """Training objective and validation loss; training and validation accuracy, per
    epoch. ``note`` (a figure title) says where the epochs started, if not from zero."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if note:
        fig.suptitle(note)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], label="train objective")
    if history.get("val_loss"):
        ax_loss.plot(epochs, history["val_loss"], label="validation loss")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_loss.legend()
    for key, label in (("train_accuracy", "train"), ("val_accuracy", "validation")):
        if history.get(key):
            ax_acc.plot(epochs, history[key], label=label)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    if ax_acc.lines:  # no validation set: no accuracy curves to label
        ax_acc.legend()
    _save(fig, path)


def roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, path: str | os.PathLike) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(
        xlabel="false positive rate (1 - specificity)",
        ylabel="true positive rate (sensitivity)",
        title="ROC curve (test)",
    )
    ax.legend(loc="lower right")
    _save(fig, path)


def confusion(cm: np.ndarray, class_names: list[str], path: str | os.PathLike) -> None:
    size = 2.5 + 0.6 * len(class_names)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), count in np.ndenumerate(cm):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            color="white" if count > threshold else "black",
        )
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    _save(fig, path)


def top_words(words: list[str], weights: np.ndarray, path: str | os.PathLike) -> None:
    """Horizontal bars of the most positive and most negative weights."""
    order = np.argsort(weights)
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(words) + 1.5))
    colors = ["tab:red" if w < 0 else "tab:blue" for w in np.asarray(weights)[order]]
    ax.barh(np.arange(len(words)), np.asarray(weights)[order], color=colors)
    ax.set_yticks(np.arange(len(words)), [words[i] for i in order], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(xlabel="weight", title="Top positive (blue) and negative (red) words")
    _save(fig, path)


def weight_images(
    images: np.ndarray, titles: list[str], path: str | os.PathLike, suptitle: str | None = None
) -> None:
    """A grid of per-class weight pictures (k, height, width) on one symmetric colour
    scale: red pushes towards the class, blue away from it.

    The scale ends at the 99.5th percentile of the absolute values, so that a few extreme
    weights (a rare class such as Disgust has the largest) do not wash out the others.
    """
    n = images.shape[0]
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    limit = float(np.percentile(np.abs(images), 99.5)) or float(np.abs(images).max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(titles[k], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    _save(fig, path)


def penalty_path(
    values: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    chosen: float,
    penalty: str,
    path: str | os.PathLike,
    nonzero: np.ndarray | None = None,
    scored_by: str = "inner CV accuracy",
) -> None:
    """Accuracy along the path (inner-CV mean +/- std, or ``scored_by`` a validation
    set) against the penalty, the chosen value marked; for an L1 path also the number
    of non-zero weights."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(values, mean, yerr=std, marker="o", capsize=3, label=scored_by)
    ax.axvline(chosen, color="grey", linestyle="--", label=f"chosen {penalty} = {chosen:.3g}")
    ax.set(xscale="log", xlabel=penalty, ylabel="accuracy", title="Regularization path")
    ax.legend(loc="lower left")
    if nonzero is not None:
        twin = ax.twinx()
        twin.plot(values, nonzero, color="tab:orange", marker=".", label="non-zero weights")
        twin.set_ylabel("non-zero weights")
    _save(fig, path)


def forest(frame, path: str | os.PathLike, confidence: float = 0.95) -> None:
    """The comparison of a summary: one panel per task and dataset, one row per run, its
    ``accuracy`` with the interval ``accuracy_ci_low`` .. ``accuracy_ci_high``.

    The best of each panel is a star with its label in bold; the runs a paired test cannot
    tell from it are shaded; each row ends with its numbers and its ``verdict``. Each
    panel has its own scale: accuracies of different tasks do not compare.

    Parameters
    ----------
    frame : pandas.DataFrame
        Summary rows with ``task``, ``dataset``, ``experiment``, ``accuracy``,
        ``accuracy_ci_low``, ``accuracy_ci_high``, ``verdict`` (``best``, ``≈ best``,
        ``< best``, ``not paired``, ``only run``: :func:`logreg.experiment.summary.verdicts`)
        and, if known, ``features``, ``l1``, ``l2``, ``evaluation``.
    """
    groups = list(frame.groupby(["task", "dataset"], sort=False))
    heights = [len(rows) + 0.8 for _, rows in groups]
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(11, 0.9 + 0.42 * sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, ((task, dataset), rows) in zip(axes[:, 0], groups):
        rows = rows.sort_values("accuracy", ascending=True, kind="stable")
        for i, (_, row) in enumerate(rows.iterrows()):
            best, tied = row["verdict"] in ("best", "only run"), row["verdict"] == "≈ best"
            if tied:
                ax.axhspan(i - 0.45, i + 0.45, color="tab:green", alpha=0.15, linewidth=0)
            low, high = row["accuracy_ci_low"], row["accuracy_ci_high"]
            ax.errorbar(
                row["accuracy"],
                i,
                xerr=[[row["accuracy"] - low], [high - row["accuracy"]]],
                fmt="*" if best else "o",
                markersize=13 if best else 6,
                color="tab:green" if best or tied else "tab:grey",
                capsize=3,
            )
            ax.annotate(
                f"{row['accuracy']:.3f} [{low:.3f}, {high:.3f}]  {row['verdict']}",
                (1.01, i),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=9,
                fontweight="bold" if best else "normal",
            )
        ax.set_yticks(np.arange(len(rows)), [_forest_label(row) for _, row in rows.iterrows()])
        for label, verdict in zip(ax.get_yticklabels(), rows["verdict"]):
            label.set_fontweight("bold" if verdict in ("best", "only run") else "normal")
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.grid(axis="x", alpha=0.3)
        protocols = sorted(set(rows["evaluation"].dropna())) if "evaluation" in rows else []
        how = {"cv": "cross-validated", "holdout": "held-out test split"}
        evaluation = f"  ({', '.join(how.get(p, p) for p in protocols)})" if protocols else ""
        ax.set_title(f"{task} · {dataset}{evaluation}", loc="left", fontsize=10)
    axes[-1, 0].set_xlabel(f"accuracy, {confidence:.0%} interval")
    fig.suptitle(
        "Which model is best on each dataset: ★ best accuracy, shaded: not distinguishable "
        "from it (paired test)",
        fontsize=10,
        x=0.02,
        ha="left",
    )
    fig.tight_layout()
    _save(fig, path)


def _forest_label(row) -> str:
    """``faces_softmax · kmeans · l2 0.00316``: the experiment, its features, its penalty."""
    parts = [str(row["experiment"])]
    features = row.get("features")
    if isinstance(features, str) and features:
        parts.append(features)
    strengths = [f"{p} {row[p]:.3g}" for p in ("l1", "l2") if row.get(p, 0) and row[p] > 0]
    parts.append(" + ".join(strengths) if strengths else "no penalty")
    return " · ".join(parts)
