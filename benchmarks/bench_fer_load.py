"""Benchmark: load + validate + normalize the full FER2013 CSV (35,887 rows).

Each method runs in its own fresh Python process, so its peak resident memory
(``ru_maxrss``) is its own. Timed: from opening the file to the normalized float32
arrays of the three splits (imports and interpreter start-up excluded, reported apart).

Methods:

* ``fast``: :func:`logreg.data.faces.prepare.load_fer2013` (threaded gzip inflate, vectorized
  byte-level parse, every row validated) + :func:`logreg.data.faces.normalize.fit_and_normalize`
  and :func:`~logreg.data.faces.normalize.normalize`, as the data stage does.
* ``naive``: one ``str.split`` + ``int()`` per row, the same validation per row, then
  the same normalization.
* ``pandas``: ``pandas.read_csv`` then one ``np.fromstring(" ".join(pixels), sep=" ")``;
  it validates less (range and total count only, not the count per row).

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_fer_load.py [--repeat 3]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_fer_load.py --methods fast --features hog
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"
USAGE_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
LABELS = {str(k) for k in range(7)}


def _load_fast(path: Path):
    from logreg.data.faces.prepare import load_fer2013

    raw = load_fer2013(path)
    return raw.pixels, raw.labels


def _load_naive(path: Path):
    import gzip

    import numpy as np

    pixels = {s: [] for s in USAGE_SPLIT.values()}
    labels = {s: [] for s in USAGE_SPLIT.values()}
    with gzip.open(path, "rt", encoding="ascii", newline="") as fh:
        if fh.readline().strip() != "emotion,pixels,Usage":
            raise ValueError(f"{path}:1: bad header")
        for number, line in enumerate(fh, start=2):
            emotion, field, usage = line.rstrip("\r\n").split(",")
            values = [int(v) for v in field.split()]
            if len(values) != 2304 or min(values) < 0 or max(values) > 255:
                raise ValueError(f"{path}:{number}: bad pixels")
            if emotion not in LABELS or usage not in USAGE_SPLIT:
                raise ValueError(f"{path}:{number}: bad label or Usage")
            pixels[USAGE_SPLIT[usage]].append(values)
            labels[USAGE_SPLIT[usage]].append(int(emotion))
    return (
        {s: np.array(v, dtype=np.uint8) for s, v in pixels.items()},
        {s: np.array(v) for s, v in labels.items()},
    )


def _load_pandas(path: Path):
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(path, dtype={"emotion": "int64", "pixels": str, "Usage": str})
    values = np.fromstring(" ".join(frame["pixels"].tolist()), dtype=np.int64, sep=" ")
    if values.size != len(frame) * 2304 or values.min() < 0 or values.max() > 255:
        raise ValueError(f"{path}: bad pixels")
    values = values.astype(np.uint8).reshape(len(frame), 2304)
    pixels, labels = {}, {}
    for usage, split in USAGE_SPLIT.items():
        rows = (frame["Usage"] == usage).to_numpy()
        pixels[split], labels[split] = values[rows], frame["emotion"].to_numpy()[rows]
    return pixels, labels


METHODS = {"fast": _load_fast, "naive": _load_naive, "pandas": _load_pandas}


def _worker(method: str, path: Path, normalization: str, features: str) -> dict:
    """Run one method in this process; return its timings and peak memory."""
    import resource

    import numpy as np

    from logreg.data.faces.normalize import fit_and_normalize, normalize

    started, cpu_started = time.perf_counter(), time.process_time()
    pixels, labels = METHODS[method](path)
    loaded = time.perf_counter()
    stats, X_train = fit_and_normalize(pixels["train"], normalization, features)
    X = {split: X_train if split == "train" else normalize(p, stats) for split, p in pixels.items()}
    done = time.perf_counter()
    if any(x.dtype != np.float32 for x in X.values()):
        raise TypeError("normalize must return float32")
    return {
        "method": method,
        "seconds": done - started,
        "load_seconds": loaded - started,
        "normalize_seconds": done - loaded,
        "cpu_seconds": time.process_time() - cpu_started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": {split: int(y.size) for split, y in labels.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--methods", default="fast,naive,pandas")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each method")
    parser.add_argument("--normalization", default="per_pixel")
    parser.add_argument(
        "--features",
        default="pixels",
        choices=("pixels", "hog"),
        help="hog: time the HOG features (default layout) instead",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.path, args.normalization, args.features)))
        return
    if not args.path.is_file():
        sys.exit(f"error: {args.path} not found (the real FER2013, see ../shared/data)")
    print(
        f"{args.path} ({args.path.stat().st_size:,} bytes), {args.features} features, "
        f"{os.cpu_count()} CPUs, "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        "| method | run | wall s (load + normalize) | CPU s | process wall s | "
        "peak RSS MB | rows train/val/test |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for method in args.methods.split(","):
        for run in range(1, args.repeat + 1):
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    method,
                    "--path",
                    str(args.path),
                    "--normalization",
                    args.normalization,
                    "--features",
                    args.features,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            total = time.perf_counter() - started
            result = json.loads(done.stdout)
            rows = "/".join(str(result["rows"][s]) for s in ("train", "val", "test"))
            print(
                f"| {method} | {run} | {result['seconds']:.2f} "
                f"({result['load_seconds']:.2f} + {result['normalize_seconds']:.2f}) | "
                f"{result['cpu_seconds']:.2f} | {total:.2f} | {result['peak_rss_mb']:.0f} "
                f"| {rows} |",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
