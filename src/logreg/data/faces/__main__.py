"""Command line of the FER2013 data stage (called by workflow/rules/faces.smk).

    python -m logreg.data.faces demo --out data/demo/fer2013.csv --n-rows 1400 --seed 2013
    python -m logreg.data.faces prepare --input data/demo/fer2013.csv \\
        --out-dir results/data/faces/demo/pixels --normalization per_pixel --seed 2013
    python -m logreg.data.faces prepare --input data/demo/fer2013.csv \\
        --out-dir results/data/faces/demo/hog --features hog --hog-cell-size 6 --seed 2013
    python -m logreg.data.faces prepare --input data/demo/fer2013.csv \\
        --out-dir results/data/faces/demo/kmeans --features kmeans --kmeans-n-centroids 800 \\
        --seed 2013
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from logreg.cli import run_cli
from logreg.data.faces.demo import MIN_ROWS, write_demo_csv
from logreg.data.faces.features import FEATURES, feature_parts, fixed_normalization
from logreg.data.faces.hog import HogParams
from logreg.data.faces.kmeans import KmeansParams
from logreg.data.faces.normalize import METHODS
from logreg.data.faces.prepare import prepare_faces
from logreg.errors import UserError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m logreg.data.faces", description="FER2013 data stage."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="write a small synthetic FER2013-format CSV")
    demo.add_argument("--out", required=True, help="CSV file to write")
    demo.add_argument(
        "--n-rows", type=int, default=1400, help=f"number of images (>= {MIN_ROWS}; default 1400)"
    )
    demo.add_argument("--seed", type=int, required=True)
    prep = commands.add_parser("prepare", help="validate, split, featurize, normalize, save")
    prep.add_argument(
        "--input", required=True, help="fer2013.csv, fer2013.csv.gz or an image-folder root"
    )
    prep.add_argument("--out-dir", required=True, help="prepared dataset folder to write")
    prep.add_argument("--normalization", choices=METHODS, default="per_pixel")
    prep.add_argument(
        "--features",
        choices=FEATURES,
        default="pixels",
        help="grey levels, histograms of oriented gradients (HOG), k-means patch features, "
        "or HOG and k-means side by side",
    )
    defaults = HogParams()
    for name in ("cell_size", "orientations", "block_size"):
        prep.add_argument(
            f"--hog-{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            help=f"HOG {name.replace('_', ' ')} (default {getattr(defaults, name)})",
        )
    kmeans_defaults = KmeansParams()
    for name, value in kmeans_defaults.to_dict().items():
        prep.add_argument(
            f"--kmeans-{name.replace('_', '-')}",
            type=type(value),
            default=value,
            help=f"k-means {name.replace('_', ' ')} (default {value})",
        )
    prep.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the k-means encoding (default: the CPUs this process may use)",
    )
    prep.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip invalid rows/images (reported) instead of failing",
    )
    prep.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="image folders only: stratified share of train/ for validation",
    )
    prep.add_argument("--seed", type=int, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` and run the chosen subcommand."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        if args.n_rows < MIN_ROWS:
            raise UserError(
                f"--n-rows: expected at least {MIN_ROWS} (7 emotions x 3 Usage "
                f"values), got {args.n_rows}"
            )
        write_demo_csv(args.out, args.n_rows, args.seed)
        log.info("wrote %d demo faces to %s", args.n_rows, args.out)
        return
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads: expected a positive integer, got {args.threads}")
    if not 0 < args.val_fraction < 1:
        raise UserError(f"--val-fraction: expected a number in (0, 1), got {args.val_fraction}")
    # Checked before reading any data: a wrong layout fails in a second.
    required = fixed_normalization(args.features)
    if required is not None and args.normalization != required:
        raise UserError(
            f"--normalization {args.normalization}: {args.features} features take "
            f"{required} (each feature standardized with train statistics)"
        )
    hog = kmeans = None
    if "hog" in feature_parts(args.features):
        try:
            hog = HogParams(args.hog_cell_size, args.hog_orientations, args.hog_block_size)
        except ValueError as exc:
            raise UserError(
                f"{exc} (options --hog-cell-size, --hog-orientations, --hog-block-size)"
            ) from None
    if "kmeans" in feature_parts(args.features):
        names = KmeansParams().to_dict()
        try:
            kmeans = KmeansParams(**{name: getattr(args, f"kmeans_{name}") for name in names})
        except ValueError as exc:
            options = ", ".join(f"--kmeans-{name.replace('_', '-')}" for name in names)
            raise UserError(f"{exc} (options {options})") from None
    prepare_faces(
        args.input,
        args.out_dir,
        normalization=args.normalization,
        features=args.features,
        hog=hog,
        kmeans=kmeans,
        n_threads=args.threads,
        skip_bad_rows=args.skip_bad_rows,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )


if __name__ == "__main__":
    run_cli(main)
