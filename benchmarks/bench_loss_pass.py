"""One loss + gradient pass over wide dense data: blocks of rows vs whole-matrix products.

``MultinomialCrossEntropy.loss_gradient`` reads a dense ``X`` in blocks of
``BLOCK_BYTES`` bytes of rows, so that each block stays in cache between its two
products (scores, then the gradient). This script times one pass at several block
sizes, the last one larger than ``X`` (= the two whole-matrix products the loss made
before), with one and two BLAS threads, and one epoch of a monitored fit (the scores the
monitor needs come from the solver's last pass: no third product).

Data: the prepared FER2013 k-means features of the workflow's data stage
(28,709 x 7,200 float32 after ``--configfile conf/workflow/real.yaml``).

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_loss_pass.py \\
        [--prepared results/data/faces/real/kmeans] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import logreg.linear.loss as loss_module
from logreg.linear.estimators import SoftmaxRegression
from logreg.linear.loss import make_loss, one_hot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("results/data/faces/real/kmeans"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    X = np.ascontiguousarray(np.load(args.prepared / "X_train.npy", mmap_mode="r"))
    y = np.load(args.prepared / "y_train.npy")
    X_val, y_val = np.load(args.prepared / "X_val.npy"), np.load(args.prepared / "y_val.npy")
    classes = np.unique(y)
    loss = make_loss(classes.size, True)
    Y = one_hot(np.searchsorted(classes, y), classes.size)
    coef = np.random.default_rng(0).normal(size=(classes.size, X.shape[1])) * 1e-3
    intercept = np.zeros(classes.size)
    default = loss_module.BLOCK_BYTES
    print(f"X: {X.shape[0]} x {X.shape[1]} {X.dtype} ({X.nbytes / 2**20:.0f} MiB)")
    print("| BLAS threads | block | s per loss + gradient pass |")
    print("| ---: | ---: | ---: |")
    for threads in (1, 2):
        with threadpool_limits(threads):
            for block in (1 << 20, 2 << 20, 4 << 20, 16 << 20, X.nbytes + 1):
                loss_module.BLOCK_BYTES = block
                loss.loss_gradient(coef, intercept, X, Y)  # warm-up
                started = time.perf_counter()
                for _ in range(args.repeats):
                    loss.loss_gradient(coef, intercept, X, Y)
                seconds = (time.perf_counter() - started) / args.repeats
                label = "whole X" if block > X.nbytes else f"{block >> 20} MiB"
                print(f"| {threads} | {label} | {seconds:.3f} |", flush=True)
    loss_module.BLOCK_BYTES = default
    print("\n| BLAS threads | monitor reuses the last pass's scores | s per epoch (20 epochs) |")
    print("| ---: | --- | ---: |")
    keep = loss_module._CrossEntropy.keep_scores_of
    for threads in (1, 2):
        for reuse in (True, False):
            # Without reuse (as before): the monitor makes its own product with X each epoch.
            loss_module._CrossEntropy.keep_scores_of = (
                keep if reuse else lambda self, X: keep(self, None)
            )
            with threadpool_limits(threads):
                model = SoftmaxRegression(l2=1e-3, max_iter=20, tol=1e-12)
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # stopped by max_iter on purpose
                    model.fit(X, y, eval_set=(X_val, y_val))
                seconds = (time.perf_counter() - started) / model.n_iter_
            print(f"| {threads} | {'yes' if reuse else 'no'} | {seconds:.3f} |", flush=True)
    loss_module._CrossEntropy.keep_scores_of = keep


if __name__ == "__main__":
    main()
