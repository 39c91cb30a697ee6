"""Research benchmark: FER2013 softmax accuracy and convergence against L-BFGS iterations.

Fits the softmax at one l2 from zero on prepared face features (a data-stage folder:
``X_*.npy``, ``y_*.npy``, already standardized) with the project's L-BFGS
(:func:`logreg.linear.solvers.lbfgs.lbfgs`), plain or with ``precondition="covariance"``,
and prints one JSON line every ``--every`` iterations: the objective, the relative
gradient (the solver's stopping measure, computed by an extra pass), PublicTest (val) and
PrivateTest (test) accuracy, and the seconds so far (the extra passes included).

Usage (from the repository root; the folder is what ``prepare_faces`` wrote)::

    PYTHONPATH=src .venv/bin/python benchmarks/fer_fit_iterations.py \\
        results/data/faces/real/kmeans --l2 3.2e-3 --max-iter 80 --precondition covariance
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from logreg.linear.loss import MultinomialCrossEntropy, one_hot
from logreg.linear.penalties import ElasticNet
from logreg.linear.solvers._common import smooth_loss_gradient
from logreg.linear.solvers.lbfgs import lbfgs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--l2", type=float, default=3.2e-3)
    parser.add_argument("--max-iter", type=int, default=80)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--precondition", default="covariance", choices=("none", "covariance"))
    args = parser.parse_args()
    X, y = (np.load(args.folder / f"{a}_train.npy") for a in "Xy")
    val = [np.load(args.folder / f"{a}_val.npy") for a in "Xy"]
    test = [np.load(args.folder / f"{a}_test.npy") for a in "Xy"]
    n_classes = int(y.max()) + 1
    Y, loss = one_hot(y, n_classes), MultinomialCrossEntropy(n_classes)
    penalty = ElasticNet(l2=args.l2)
    at_zero = loss.loss_gradient(np.zeros((n_classes, X.shape[1])), np.zeros(n_classes), X, Y)
    reference = max(np.abs(at_zero[1]).max(), np.abs(at_zero[2]).max())
    started = time.perf_counter()

    def report(iteration, coef, intercept, value):
        if iteration % args.every and iteration > 3:
            return False
        _, grad_coef, grad_intercept = smooth_loss_gradient(
            loss, penalty, coef, intercept, X, Y, None
        )
        criterion = max(np.abs(grad_coef).max(), np.abs(grad_intercept).max()) / reference
        weights = coef.T.astype(np.float32)
        row = {"iteration": iteration, "objective": round(value, 7)}
        row["relative_gradient"] = float(f"{criterion:.3g}")
        for name, (X_split, y_split) in (("val", val), ("test", test)):
            predicted = np.argmax(X_split @ weights + intercept, axis=1)
            row[f"{name}_accuracy"] = round(float(np.mean(predicted == y_split)), 4)
        row["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(row), flush=True)
        return False

    _, _, n_iter, _, convergence = lbfgs(
        loss, penalty, X, Y, None, max_iter=args.max_iter, tol=1e-9, callback=report,
        precondition=args.precondition,
    )  # fmt: skip
    print(json.dumps({"stopped": convergence.reason, "n_iter": n_iter}), flush=True)


if __name__ == "__main__":
    main()
