"""The two products a Newton-CG fit makes, ``X @ w`` and ``X.T @ r``, on a prepared split
held in memory (scipy) and streamed from its file (``dataset.stream_above_mb``), in the
same run: seconds per product (best and median of ``--repeat``), peak RSS of each way in
its own process, and whether the results are the same bit for bit.

Usage (a domain prepared by the workflow, e.g. by ``benchmarks/review_scale.py``)::

    PYTHONPATH=src python benchmarks/bench_streamed_products.py \\
        /tmp/review-scale/n1000000/results/data/reviews/scale/large/prepared --split train

``--only memory`` or ``--only streamed`` runs one way in this process (what the main run
starts twice); a split too large to hold is measured with ``--only streamed``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from logreg.data.prepared import load_prepared


def measure(prepared: str, split: str, way: str, repeat: int, out: Path) -> dict:
    started = time.perf_counter()
    data = load_prepared(prepared, stream_above_mb=0 if way == "streamed" else None)
    X = data.X[split]
    X.T  # noqa: B018 (the transpose view, as newton_cg makes it once)
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(0)
    w = rng.standard_normal(X.shape[1]).astype(X.dtype)
    r = rng.standard_normal(X.shape[0]).astype(X.dtype)
    times = {"X @ w": [], "X.T @ r": []}
    XT = X.T
    for _ in range(repeat):
        t0 = time.perf_counter()
        z = X @ w
        t1 = time.perf_counter()
        g = XT @ r
        t2 = time.perf_counter()
        times["X @ w"].append(t1 - t0)
        times["X.T @ r"].append(t2 - t1)
    np.save(out, np.concatenate([z, g]))
    return {
        "way": way,
        "shape": list(X.shape),
        "nnz": int(X.nnz),
        "load_s": load_seconds,
        **{f"{k} best s": min(v) for k, v in times.items()},
        **{f"{k} median s": float(np.median(v)) for k, v in times.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prepared")
    parser.add_argument("--split", default="train")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["memory", "streamed"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_streamed_products"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only:
        result = measure(args.prepared, args.split, args.only, args.repeat, args.out / args.only)
        print(json.dumps(result))
        return
    rows = []
    for way in ("memory", "streamed"):
        done = subprocess.run(
            [sys.executable, __file__, args.prepared, "--split", args.split, "--only", way,
             "--repeat", str(args.repeat), "--out", str(args.out)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    same = np.array_equal(np.load(args.out / "memory.npy"), np.load(args.out / "streamed.npy"))
    n, d = rows[0]["shape"]
    print(f"{args.split}: {n:,} x {d:,}, {rows[0]['nnz']:,} stored entries")
    print("| way | load s | X @ w s (best, median) | X.T @ r s (best, median) | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['way']} | {row['load_s']:.2f} | {row['X @ w best s']:.3f}, "
            f"{row['X @ w median s']:.3f} | {row['X.T @ r best s']:.3f}, "
            f"{row['X.T @ r median s']:.3f} | {row['peak_rss_mb']:,.0f} |"
        )
    print(f"same results bit for bit: {same}")


if __name__ == "__main__":
    main()
