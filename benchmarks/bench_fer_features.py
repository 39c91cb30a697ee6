"""Benchmark: the k-means feature pass over all of FER2013 (35,887 images), time and memory.

Runs in a fresh Python process per repeat, so ``ru_maxrss`` is the pass's own peak. Timed
separately: reading the CSV, fitting the dictionary (whitening + k-means on the training
images), encoding all images (:func:`logreg.data.faces.kmeans.kmeans_features`), and the
standardization; as the data stage does it, but without writing files. Then, on one
core, where the encoding of one image spends its time (one line per step, in the order
of :class:`logreg.data.faces.kmeans._Encoder`), and the BLAS thread pool that the data
stage sees (threadpoolctl).

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_fer_features.py [--repeat 2]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_fer_features.py --threads 1 --n-centroids 1600
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


def _pass(path: str, threads: int, n_centroids: int) -> dict:
    import resource

    import numpy as np
    from threadpoolctl import threadpool_info

    from logreg.data.faces.kmeans import KmeansParams, fit_kmeans, kmeans_features
    from logreg.data.faces.normalize import _mean_std
    from logreg.data.faces.prepare import load_fer2013

    started = time.perf_counter()
    raw = load_fer2013(path)
    pixels = np.concatenate([raw.pixels[s] for s in ("train", "val", "test")])
    loaded = time.perf_counter()
    dictionary = fit_kmeans(raw.pixels["train"], KmeansParams(n_centroids=n_centroids))
    fitted = time.perf_counter()
    cpu = time.process_time()
    features = kmeans_features(pixels, dictionary, n_threads=threads)
    encoded = time.perf_counter()
    encode_cpu = time.process_time() - cpu
    n_train = raw.pixels["train"].shape[0]
    mean, std = _mean_std(features[:n_train])  # the data stage's chunked statistics
    features -= mean
    features /= std
    done = time.perf_counter()
    return {
        "images": int(pixels.shape[0]),
        "features": int(features.shape[1]),
        "load_s": loaded - started,
        "fit_s": fitted - loaded,
        "encode_s": encoded - fitted,
        "encode_cpu_s": encode_cpu,
        "standardize_s": done - encoded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "blas": [(i["internal_api"], i["num_threads"]) for i in threadpool_info()],
    }


def _steps(n_centroids: int, n_images: int = 200) -> dict:
    """Seconds per image of each step of the encoding, one core."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from logreg.data.faces.kmeans import (
        _POSITIONS_PER_BLOCK,
        KmeansParams,
        _Encoder,
        _normalize_patches,
        _patch_rows,
        _triangle_pool,
        fit_kmeans,
    )

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (n_images, 2304)).astype(np.uint8)
    params = KmeansParams(n_centroids=n_centroids, n_patches=20_000)
    encoder = _Encoder(fit_kmeans(pixels, params))
    totals: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        result = fn()
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - start
        return result

    with threadpool_limits(1, user_api="blas"):
        images = pixels.reshape(-1, 48, 48).astype(np.float32)
        patches = timed("extract patches", lambda: _patch_rows(images, params))
        timed("normalize patches", lambda: _normalize_patches(patches))
        n_positions, d = patches.shape[1:]
        augmented = np.empty((n_positions, d + 2), np.float32)
        augmented[:, d + 1] = 1.0
        block = _POSITIONS_PER_BLOCK
        buffer = np.empty((block, n_centroids), np.float32)
        pooled = np.zeros((params.pool_grid**2, n_centroids), np.float32)
        for i in range(n_images):
            w = augmented[:, :d]
            timed(
                "whiten (GEMM 1849x36x36)", lambda: np.matmul(patches[i], encoder.whitening, out=w)
            )
            timed("|w|^2", lambda: np.einsum("ij,ij->i", w, w, out=augmented[:, d]))
            for start in range(0, n_positions, block):
                stop = min(start + block, n_positions)
                z = buffer[: stop - start]
                timed(
                    f"distances (GEMM {block}x38x{n_centroids} per block)",
                    lambda: np.matmul(augmented[start:stop], encoder.distance_matrix, out=z),
                )
                timed(
                    "clip + sqrt + mean + triangle + pool (fused, numba)",
                    lambda: _triangle_pool(z, encoder.cells[start:stop], pooled),
                )
    return {name: seconds / n_images for name, seconds in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=str(DEFAULT_PATH))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--n-centroids", type=int, default=800)
    parser.add_argument("--child", choices=["pass", "steps"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "pass":
        print(json.dumps(_pass(args.path, args.threads, args.n_centroids)))
        return
    if args.child == "steps":
        print(json.dumps(_steps(args.n_centroids)))
        return
    print(f"load average before: {os.getloadavg()}, {args.threads} encoding threads")
    print(
        "| run | load s | fit s | encode s (CPU s) | standardize s | total s "
        "| peak RSS MB | BLAS threads |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    argv = [sys.executable, __file__, "--path", args.path, "--threads", str(args.threads)]
    argv += ["--n-centroids", str(args.n_centroids)]
    for run in range(1, args.repeat + 1):
        out = subprocess.run(argv + ["--child", "pass"], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        total = r["load_s"] + r["fit_s"] + r["encode_s"] + r["standardize_s"]
        print(
            f"| {run} | {r['load_s']:.1f} | {r['fit_s']:.1f} | {r['encode_s']:.1f} "
            f"({r['encode_cpu_s']:.1f}) | {r['standardize_s']:.1f} | {total:.1f} "
            f"| {r['peak_rss_mb']:.0f} | {r['blas']} |"
        )
    out = subprocess.run(argv + ["--child", "steps"], capture_output=True, text=True, check=True)
    steps = json.loads(out.stdout)
    total = sum(steps.values())
    print(f"\nOne image on one core: {1e3 * total:.2f} ms")
    print("\n| step | ms per image | share |\n| --- | ---: | ---: |")
    for name, seconds in steps.items():
        print(f"| {name} | {1e3 * seconds:.3f} | {seconds / total:.0%} |")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
