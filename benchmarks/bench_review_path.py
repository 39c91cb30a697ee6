"""The selection path of ``experiment=reviews_large`` on a prepared review domain, counted.

Fits the preset's L2 path (1e-4 .. 1e-7, warm-started, ``solver=auto``: newton_cg on
sparse X) on the training split, as ``selection.scored_on=val`` does, and prints the Newton
iterations of each value, the Hessian-vector products (each one pass over X's non-zeros
each way), the CPU seconds and the validation accuracy of each fit. Run it under
``/usr/bin/time -v`` for the peak memory.

Usage (a domain prepared by the workflow, e.g. by ``benchmarks/review_scale.py``)::

    PYTHONPATH=src /usr/bin/time -v python benchmarks/bench_review_path.py \\
        /tmp/review-scale/n100000/results/data/reviews/scale/large/prepared --tol 1e-4
"""

from __future__ import annotations

import argparse
import importlib
import time
import warnings

import numpy as np

from logreg.data.prepared import load_prepared
from logreg.linear.estimators import LogisticRegression
from logreg.linear.path import regularization_path

GRID = (1e-4, 1e-5, 1e-6, 1e-7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prepared")
    parser.add_argument("--tol", type=float, default=1e-4)
    args = parser.parse_args()
    data = load_prepared(args.prepared)
    X, y = data.X["train"], data.y["train"]
    print(f"X_train {X.shape[0]:,} x {X.shape[1]:,}, {X.nnz:,} non-zeros, {X.dtype}")
    # Count the Hessian-vector products: newton_cg's score-change products.
    module = importlib.import_module("logreg.linear.solvers.newton_cg")
    products, count = module._products, [0]

    def counted(*a, **k):
        count[0] += 1
        return products(*a, **k)

    module._products = counted
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = regularization_path(
            LogisticRegression(tol=args.tol, max_iter=500), X, y, l2s=list(GRID)
        )
    seconds = time.process_time() - started
    print(f"path: {count[0]} Hessian-vector products, {seconds:.1f} s CPU, solver {path.solver}")
    for l2, iterations, coef, intercept in zip(path.l2s, path.n_iter, path.coefs, path.intercepts):
        scores = data.X["val"] @ coef[0].astype(data.X["val"].dtype) + intercept[0]
        accuracy = float(np.mean((scores > 0) == data.y["val"]))
        print(f"  l2 {l2:.0e}: {iterations} Newton iterations, validation accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
