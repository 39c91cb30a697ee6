"""Research benchmark: FER2013 accuracy and cost of one face-feature setting, end to end.

Reads the real CSV once with the data stage's reader (the parsed uint8 images are cached
in ``--cache-dir``, so later settings skip the ~10 s parse), builds the features with
:mod:`logreg.data.faces.kmeans` (and :mod:`~logreg.data.faces.hog` with ``--hog``),
standardizes them with training statistics as the data stage does, then fits the
project's softmax as ``experiment=faces_softmax`` does: a warm-started l2 path scored on
PublicTest (``val``), then the final fit from the path's fit at the chosen l2. Prints one
JSON line: the setting, train / PublicTest / PrivateTest accuracy, the chosen l2, the
feature and fit seconds. PrivateTest plays no part in any choice.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/fer_features.py                # the default
    PYTHONPATH=src .venv/bin/python benchmarks/fer_features.py --kmeans flip=average \\
        n_centroids=1600
    PYTHONPATH=src .venv/bin/python benchmarks/fer_features.py --hog --kmeans pool_grid=2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT.parent / "shared" / "data" / "fer2013" / "fer2013.csv.gz"
SPLITS = ("train", "val", "test")


def load_pixels(path: Path, cache_dir: Path) -> tuple[dict, dict]:
    """uint8 pixels and labels per split, parsed once and cached as .npy files."""
    from logreg.data.faces.prepare import load_fer2013

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    folder = cache_dir / f"fer_pixels_{key.hexdigest()[:12]}"
    if not folder.exists():
        raw = load_fer2013(path)
        tmp = folder.with_suffix(".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            np.save(tmp / f"X_{split}.npy", np.ascontiguousarray(raw.pixels[split]))
            np.save(tmp / f"y_{split}.npy", raw.labels[split])
        os.replace(tmp, folder)
    pixels = {s: np.load(folder / f"X_{s}.npy") for s in SPLITS}
    labels = {s: np.load(folder / f"y_{s}.npy") for s in SPLITS}
    return pixels, labels


def parse_settings(items: list[str]) -> dict:
    """``key=value`` strings -> KmeansParams keyword arguments (ints, floats or strings)."""
    settings = {}
    for item in items:
        key, _, value = item.partition("=")
        for cast in (int, float):
            try:
                settings[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            settings[key] = value
    return settings


def build_features(pixels: dict, kmeans_settings: dict, hog: bool, threads: int | None):
    """Standardized float32 features per split and the seconds they took (all splits)."""
    from logreg.data.faces.hog import HogParams, hog_features
    from logreg.data.faces.kmeans import KmeansParams, fit_kmeans, kmeans_features
    from logreg.data.faces.normalize import _mean_std

    started = time.perf_counter()
    params = KmeansParams(**kmeans_settings)
    dictionary = fit_kmeans(pixels["train"], params)
    dictionary_s = time.perf_counter() - started
    X = {}
    for split in SPLITS:
        blocks = [hog_features(pixels[split], HogParams())] if hog else []
        blocks.append(kmeans_features(pixels[split], dictionary, n_threads=threads))
        X[split] = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
    mean, std = _mean_std(X["train"])
    for split in SPLITS:
        X[split] -= mean
        X[split] /= std
    return X, dictionary_s, time.perf_counter() - started


def fit_softmax(
    X: dict, y: dict, high: float, low: float, n_values: int, max_iter: int, precondition: str
):
    """The preset's selection and fit: l2 path on PublicTest, final fit warm-started."""
    from logreg.experiment.selection import penalty_grid, select_penalty
    from logreg.linear.estimators import SoftmaxRegression

    started = time.perf_counter()
    estimator = SoftmaxRegression(
        l2=low, max_iter=max_iter, tol=1e-5, random_state=2013, precondition=precondition
    )
    values = penalty_grid(high, low, n_values) if n_values > 1 else np.array([high])
    result = select_penalty(
        estimator,
        X["train"],
        y["train"],
        "l2",
        values,
        n_splits=3,
        seed=2013,
        validation=(X["val"], y["val"]),
    )
    path_s = time.perf_counter() - started
    estimator.set_params(l2=result.chosen)
    estimator.fit(X["train"], y["train"], coef_init=result.coef, intercept_init=result.intercept)
    accuracy = {s: float(np.mean(estimator.predict(X[s]) == y[s])) for s in SPLITS}
    return {
        "l2_values": [float(v) for v in result.values],
        "val_path": [round(float(v), 4) for v in np.ravel(result.scores)],
        "l2": float(result.chosen),
        "path_iter": int(result.n_iter),
        "final_iter": int(np.max(estimator.n_iter_)),
        "path_s": round(path_s, 1),
        "fit_s": round(time.perf_counter() - started, 1),
        **{f"{s}_accuracy": round(a, 4) for s, a in accuracy.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/fer_features_cache"))
    parser.add_argument("--kmeans", nargs="*", default=[], help="KmeansParams key=value")
    parser.add_argument("--hog", action="store_true", help="HOG features before k-means")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--high", type=float, default=1e-2, help="strongest l2 of the path")
    parser.add_argument("--low", type=float, default=1e-3, help="weakest l2 of the path")
    parser.add_argument("--n-values", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=150)
    parser.add_argument("--precondition", default="none", choices=("none", "covariance"))
    args = parser.parse_args()

    pixels, labels = load_pixels(args.input, args.cache_dir)
    settings = parse_settings(args.kmeans)
    X, dictionary_s, feature_s = build_features(pixels, settings, args.hog, args.threads)
    row = {
        "kmeans": settings,
        "hog": args.hog,
        "n_features": int(X["train"].shape[1]),
        "dictionary_s": round(dictionary_s, 1),
        "feature_s": round(feature_s, 1),
        "load": os.getloadavg()[0],
    }
    row["precondition"] = args.precondition
    row.update(
        fit_softmax(X, labels, args.high, args.low, args.n_values, args.max_iter, args.precondition)
    )
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    row["load_end"] = os.getloadavg()[0]
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
