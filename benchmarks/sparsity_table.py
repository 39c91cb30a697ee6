"""The sparsity table of docs/models.md: L1 fits on the electronics tf-idf vectors, converged.

Every fit must meet its tolerance: a ConvergenceWarning is an error here.

Usage (after the workflow prepared the data under RESULTS)::

    PYTHONPATH=src python benchmarks/sparsity_table.py --results RESULTS [--tol 1e-6]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from logreg.linear.estimators import LogisticRegression
from logreg.linear.solvers import ConvergenceWarning

SETTINGS = [(0.0, 2e-4), (1e-4, 0.0), (3e-4, 0.0), (1e-3, 0.0), (3e-3, 0.0)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    # The workflow's real-data run (--configfile conf/workflow/real.yaml) writes it here.
    folder = args.results / "data" / "reviews" / "real" / "electronics" / "prepared"
    X, y = sp.load_npz(folder / "X_train.npz").tocsr(), np.load(folder / "y_train.npy")
    X_test, y_test = sp.load_npz(folder / "X_test.npz").tocsr(), np.load(folder / "y_test.npy")
    rows = []
    for l1, l2 in SETTINGS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            start = time.perf_counter()
            model = LogisticRegression(l1=l1, l2=l2, tol=args.tol).fit(X, y)
            seconds = time.perf_counter() - start
        rows.append(
            (l1, l2, model.solver_, model.n_iter_, np.count_nonzero(model.coef_),
             model.score(X_test, y_test), seconds)
        )  # fmt: skip
    print(f"X_train {X.shape[0]:,} x {X.shape[1]:,}; tol = {args.tol:g}; no ConvergenceWarning")
    print("| `l1` | `l2` | solver | iterations | non-zero weights | test accuracy | fit (s) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for l1, l2, solver, n_iter, nnz, accuracy, seconds in rows:
        print(
            f"| {l1:g} | {l2:g} | {solver} | {n_iter} | {nnz:,} | {accuracy:.3f} | {seconds:.3f} |"
        )


if __name__ == "__main__":
    main()
