"""Warm starts along a regularization path: time with and without (issue 13).

Fits a 20-value log-spaced L2 path, strongest penalty first, twice on the same data: each
fit started from the previous solution (``logreg.linear.path.regularization_path``, which
the ``selection=cv_path`` model selection runs) and each fit started from zero (the
estimator's ``fit`` once per value). Prints the
wall time, the total solver iterations, the ratio and the largest difference between the
two paths' weights (both reach the same optima within the solver's tolerance).

(a) reviews: the electronics domain, the review preset's text options (title + text,
    no stop words, uni+bigrams, sublinear tf-idf) fitted on all 2,000 reviews, binary
    logistic regression, l2 from 1e-2 to 1e-5, the preset's tol 1e-6 / max_iter 500.
(b) faces: FER2013 HOG features of the 28,709 Training images (the data stage's
    ``prepare_faces``), 7-class softmax, l2 from 1e-1 to 1e-4, the faces preset's
    tol 1e-5 / max_iter 300.

Usage::

    PYTHONPATH=src python benchmarks/bench_warm_start.py [--data ../shared/data]
        [--problems reviews faces] [--n-values 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from logreg.data.faces.prepare import prepare_faces
from logreg.data.reviews.stages import parse_stage
from logreg.experiment.selection import penalty_grid
from logreg.experiment.text_features import ReviewCorpus, TextOptions
from logreg.linear.estimators import LogisticRegression, SoftmaxRegression
from logreg.linear.path import regularization_path


def reviews_problem(data: Path, work: Path):
    domain = data / "sentiment" / "sorted_data_acl" / "electronics"
    table = work / "reviews.parquet"
    parse_stage([domain / "positive.review", domain / "negative.review"], table)
    corpus = ReviewCorpus(table, TextOptions(stopwords=False, bigrams=True, sublinear_tf=True))
    everything = np.arange(corpus.y.size)
    X, _, _ = corpus.fold(everything, everything[:1])
    return X, corpus.y, LogisticRegression(tol=1e-6, max_iter=500), (1e-2, 1e-5)


def faces_problem(data: Path, work: Path):
    dataset = prepare_faces(
        data / "fer2013" / "fer2013.csv.gz", work / "hog", features="hog", seed=2013
    )
    X = np.asarray(dataset.X["train"])
    estimator = SoftmaxRegression(tol=1e-5, max_iter=300)
    return X, np.asarray(dataset.y["train"]), estimator, (1e-1, 1e-4)


def run(name, X, y, estimator, bounds, n_values):
    values = penalty_grid(*bounds, n_values)
    started = time.perf_counter()
    path = regularization_path(estimator, X, y, l2s=values)
    warm_s, warm_it = time.perf_counter() - started, int(path.n_iter.sum())
    started, cold_it, gap = time.perf_counter(), 0, 0.0
    for value, warm_coef in zip(path.l2s, path.coefs):
        cold = estimator.set_params(l2=float(value)).fit(X, y)
        cold_it += int(np.max(cold.n_iter_))
        gap = max(gap, float(np.max(np.abs(cold.coef_ - warm_coef))))
    cold_s = time.perf_counter() - started
    print(
        f"| {name} | {X.shape[0]} x {X.shape[1]} | {n_values} | {warm_s:.1f} ({warm_it}) "
        f"| {cold_s:.1f} ({cold_it}) | {cold_s / warm_s:.2f} | {gap:.1e} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--problems", nargs="+", default=["reviews", "faces"])
    parser.add_argument("--n-values", type=int, default=20)
    args = parser.parse_args()
    problems = {"reviews": reviews_problem, "faces": faces_problem}
    print(
        "| problem | X | path values | warm s (iterations) | cold s (iterations) "
        "| cold / warm | max weight difference |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as work:
        for name in args.problems:
            X, y, estimator, bounds = problems[name](args.data, Path(work))
            run(name, X, y, estimator, bounds, args.n_values)


if __name__ == "__main__":
    main()
