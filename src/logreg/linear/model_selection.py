"""Stratified splitting of labelled examples: the one splitter every stage uses.

The review split (train/val/test), the FER2013 validation split of image folders and the
estimators' early-stopping holdout all call :func:`stratified_partition`, so one rule
decides how many examples of each class go where, and the same seed gives the same split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def partition_sizes(n_members: int, fractions: Sequence[float]) -> list[int]:
    """How many of a class's ``n_members`` go to each held-out part.

    ``round(fraction * n)`` each; when the class has more members than there are parts,
    every held-out part gets at least one and at least one is left over.
    """
    sizes = [int(round(fraction * n_members)) for fraction in fractions]
    if n_members > len(fractions):
        sizes = [max(size, 1) for size in sizes]
        while sum(sizes) > n_members - 1:
            sizes[int(np.argmax(sizes))] -= 1
    return sizes


def stratified_partition(
    labels: np.ndarray, fractions: Sequence[float], rng: np.random.Generator
) -> np.ndarray:
    """Assign each example to a held-out part or to the rest, stratified by label.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Class labels (any sortable type).
    fractions : sequence of float
        Share of each class for held-out part ``j`` (sizes from :func:`partition_sizes`).
    rng : numpy.random.Generator
        Draws one permutation per class, classes in sorted order.

    Returns
    -------
    parts : ndarray of int of shape (n_samples,)
        ``j`` for held-out part ``j``, ``len(fractions)`` for the rest.
    """
    labels = np.asarray(labels)
    parts = np.full(labels.shape[0], len(fractions), dtype=np.intp)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for part, size in enumerate(partition_sizes(members.size, fractions)):
            parts[members[start : start + size]] = part
            start += size
    return parts


def stratified_kfold(labels: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0..n_splits-1) of each example, stratified by label.

    Each class is permuted with ``rng`` (classes in sorted order) and dealt round-robin,
    so the fold sizes of every class differ by at most one and each fold holds about
    ``1/n_splits`` of every class.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    n_splits : int
        At least 2 and at most the size of the smallest class.
    rng : numpy.random.Generator

    Returns
    -------
    folds : ndarray of int of shape (n_samples,)
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if n_splits < 2 or n_splits > counts.min():
        raise ValueError(
            f"n_splits must be >= 2 and <= the smallest class size ({counts.min()}), got {n_splits}"
        )
    folds = np.empty(labels.shape[0], dtype=np.intp)
    offset = 0
    for label in classes:
        members = rng.permutation(np.flatnonzero(labels == label))
        # The offset continues round-robin across classes, so fold sizes stay balanced.
        folds[members] = (np.arange(members.size) + offset) % n_splits
        offset += members.size
    return folds


def repeated_stratified_kfold(
    labels: np.ndarray, n_splits: int, n_repeats: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs of ``n_repeats`` stratified ``n_splits``-fold splits.

    Repeat ``r`` draws its folds from ``numpy.random.default_rng([seed, r])``, so the
    same seed gives the same folds and adding repeats keeps the earlier ones. Pairs are
    ordered repeat by repeat, fold by fold; indices are sorted.
    """
    pairs = []
    for repeat in range(n_repeats):
        folds = stratified_kfold(labels, n_splits, np.random.default_rng([seed, repeat]))
        for fold in range(n_splits):
            pairs.append((np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)))
    return pairs
