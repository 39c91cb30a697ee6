"""Command line of the FER2013 data stage (called by workflow/rules/faces.smk).

    python -m logreg.data.faces demo --out data/demo/fer2013.csv --n-rows 1400 --seed 2013
    python -m logreg.data.faces parse --input data/demo/fer2013.csv \\
        --out-dir results/data/faces/demo/images --seed 2013
    python -m logreg.data.faces prepare --input results/data/faces/demo/images \\
        --out-dir results/data/faces/demo/pixels --normalization per_pixel
    python -m logreg.data.faces prepare --input results/data/faces/demo/images \\
        --out-dir results/data/faces/demo/hog+kmeans --features hog+kmeans --hog-cell-size 6 \\
        --kmeans-n-centroids 800

Every registered feature kind (:mod:`logreg.data.faces.feature_kinds`) brings its options,
``--<kind>-<option>``; ``prepare`` also reads a raw source (CSV, CSV.gz, image folders).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from logreg.cli import run_cli
from logreg.data.faces.demo import MIN_ROWS, write_demo_csv
from logreg.data.faces.feature_kinds import cli_option, option_fields, registry, spec_names
from logreg.data.faces.features import normalization_for
from logreg.data.faces.images import parse_faces
from logreg.data.faces.normalize import METHODS
from logreg.data.faces.prepare import prepare_faces
from logreg.errors import UserError

log = logging.getLogger(__name__)


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip invalid rows/images (reported) instead of failing",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="image folders only: stratified share of train/ for validation",
    )


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
    parse = commands.add_parser("parse", help="read and validate once, split, save the images")
    parse.add_argument(
        "--input", required=True, help="fer2013.csv, fer2013.csv.gz or an image-folder root"
    )
    parse.add_argument("--out-dir", required=True, help="image store folder to write")
    _source_options(parse)
    parse.add_argument("--seed", type=int, required=True, help="image folders: the val split")
    prep = commands.add_parser("prepare", help="featurize, normalize, save")
    prep.add_argument(
        "--input",
        required=True,
        help="an image store written by `parse`, or fer2013.csv[.gz] or an image-folder root",
    )
    prep.add_argument("--out-dir", required=True, help="prepared dataset folder to write")
    prep.add_argument("--normalization", choices=METHODS, default="per_pixel")
    kinds = registry()
    prep.add_argument(
        "--features",
        default="pixels",
        help="feature kinds joined by '+', side by side in that order: "
        + "; ".join(f"{name}: {kind.description}" for name, kind in kinds.items()),
    )
    for name, kind in kinds.items():
        for option, default in option_fields(kind):
            prep.add_argument(
                cli_option(name, option),
                type=type(default),
                default=default,
                help=f"{name} {option.replace('_', ' ')} (default {default})",
            )
    prep.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the kinds that encode in parallel (default: the CPUs this process "
        "may use)",
    )
    _source_options(prep)
    prep.add_argument("--seed", type=int, default=0, help="raw image folders: the val split")
    return parser


def _kind_params(args: argparse.Namespace) -> dict[str, object]:
    """The options of each kind of ``args.features``, checked (UserError naming them)."""
    kinds = registry()
    params = {}
    for name in spec_names(args.features):
        fields = option_fields(kinds[name])
        if not fields:
            continue
        values = {
            option: getattr(args, cli_option(name, option)[2:].replace("-", "_"))
            for option, _ in fields
        }
        try:
            params[name] = kinds[name].Params(**values)
        except ValueError as exc:
            options = ", ".join(cli_option(name, option) for option, _ in fields)
            raise UserError(f"{exc} (options {options})") from None
    return params


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
    if not 0 < args.val_fraction < 1:
        raise UserError(f"--val-fraction: expected a number in (0, 1), got {args.val_fraction}")
    if args.command == "parse":
        parse_faces(
            args.input,
            args.out_dir,
            skip_bad_rows=args.skip_bad_rows,
            val_fraction=args.val_fraction,
            seed=args.seed,
        )
        return
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads: expected a positive integer, got {args.threads}")
    # Checked before reading any data: a wrong layout fails in a second.
    try:
        required = normalization_for(args.features, args.normalization)
    except ValueError as exc:
        raise UserError(f"--features: {exc}") from None
    if args.normalization != required:
        raise UserError(
            f"--normalization {args.normalization}: {args.features} features take "
            f"{required} (each feature standardized with train statistics)"
        )
    prepare_faces(
        args.input,
        args.out_dir,
        normalization=args.normalization,
        features=args.features,
        n_threads=args.threads,
        skip_bad_rows=args.skip_bad_rows,
        val_fraction=args.val_fraction,
        seed=args.seed,
        **_kind_params(args),
    )


if __name__ == "__main__":
    run_cli(main)
