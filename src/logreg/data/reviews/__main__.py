"""Command line of the review data stages: ``python -m logreg.data.reviews <stage> ...``.

Each subcommand is one Snakemake rule of ``workflow/rules/reviews.smk``; run one with
``--help`` for its options. Errors in the input end with ``error: <file>:<line>: ...``
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from logreg.cli import run_cli
from logreg.data.reviews.vectorize import WEIGHTINGS

_SHARDED = {
    "parse-shard",
    "merge-reviews",
    "count-terms",
    "merge-counts",
    "vectorize-shard",
    "gather-vectors",
    "hash-shard",
    "merge-hashed",
}
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def _bool(text: str) -> bool:
    # Snakemake formats a YAML boolean as "True"/"False".
    if text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _optional_size(text: str) -> int | None:
    # A YAML null arrives as "None".
    return None if text.lower() in ("none", "null") else _positive_int(text)


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _fields(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _add_tokenizer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stopwords", type=_bool, required=True, help="drop the bundled stop words (true/false)"
    )
    parser.add_argument(
        "--bigrams", type=_bool, required=True, help="add bigrams of adjacent kept tokens"
    )
    parser.add_argument(
        "--fields",
        type=_fields,
        required=True,
        help="comma-separated review fields to vectorize (title,review_text)",
    )


def _add_text_options(parser: argparse.ArgumentParser, fields: bool = True) -> None:
    # No defaults: the workflow config's `text:` section is the one source of these values
    # (its schema documents them), and the workflow passes every one.
    if fields:
        _add_tokenizer_options(parser)
    parser.add_argument(
        "--min-count",
        type=_positive_int,
        required=True,
        help="minimum document frequency in the training reviews",
    )
    parser.add_argument(
        "--max-size",
        type=_optional_size,
        required=True,
        help="maximum number of terms, or none",
    )


def _add_shard_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reviews", required=True, help="the domain's merged reviews table")
    parser.add_argument("--shard", type=int, required=True, help="0-based number of this shard")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(prog="python -m logreg.data.reviews", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write seeded demo .review files in the original format")
    p.add_argument("--out-dir", required=True, help="writes OUT_DIR/<domain>/*.review")
    p.add_argument("--domains", nargs="+", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--n-per-file", type=_positive_int, default=150)

    p = sub.add_parser("download", help="download the original files and verify sha256")
    p.add_argument("--out-dir", required=True, help="writes OUT_DIR/<domain>/*.review")
    p.add_argument("--domains", nargs="+", required=True)
    p.add_argument(
        "--checksums", default=None, help="sha256sum-format file (default: the bundled sums)"
    )
    p.add_argument("--url", default=None, help="URL of domain_sentiment_data.tar.gz")
    p.add_argument("--timeout", type=float, default=60.0)

    p = sub.add_parser("parse", help="parse a domain's .review files into Parquet")
    p.add_argument("files", nargs="+", help="positive.review and negative.review")
    p.add_argument("--out", required=True)

    p = sub.add_parser("split", help="stratified seeded train/val/test split")
    p.add_argument("--reviews", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--test-fraction", type=_fraction, required=True)
    p.add_argument("--val-fraction", type=_fraction, required=True)
    p.add_argument("--seed", type=int, required=True)

    p = sub.add_parser("vocabulary", help="vocabulary TSV of the training reviews")
    p.add_argument("--reviews", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    _add_text_options(p)

    p = sub.add_parser("vectorize", help="sparse vectors -> prepared dataset directory")
    p.add_argument("--reviews", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--vocabulary", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--domain", required=True)
    _add_weighting_options(p)
    _add_text_options(p)

    # The sharded stages (logreg.data.reviews.shards and .sharded): one job per shard.
    p = sub.add_parser("parse-shard", help="parse one shard of a domain's .review files")
    p.add_argument("files", nargs="+", help="positive.review and negative.review")
    p.add_argument("--shard", type=int, required=True, help="0-based number of this shard")
    p.add_argument("--n-shards", type=_positive_int, required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("merge-reviews", help="shard tables -> the domain's reviews table")
    p.add_argument("files", nargs="+", help="positive.review and negative.review")
    p.add_argument(
        "--shards", nargs="*", default=[], help="the shard tables, in order (none: parse here)"
    )
    p.add_argument("--out", required=True)

    p = sub.add_parser("count-terms", help="term counts of one shard's training reviews")
    _add_shard_options(p)
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    _add_tokenizer_options(p)
    _add_hashing_option(p)

    p = sub.add_parser("merge-counts", help="shards' term counts -> vocabulary TSV")
    p.add_argument("--counts", nargs="*", default=[], help="none: count the one shard here")
    p.add_argument("--reviews", help="the merged reviews table (counted when no --counts)")
    p.add_argument("--split", help="its split (when no --counts)")
    p.add_argument("--out", required=True)
    _add_text_options(p)
    _add_hashing_option(p)

    p = sub.add_parser("vectorize-shard", help="vectors of one shard's reviews")
    _add_shard_options(p)
    p.add_argument("--split", required=True)
    p.add_argument("--vocabulary", required=True)
    p.add_argument("--out-dir", required=True)
    _add_weighting_options(p)
    _add_text_options(p)
    _add_hashing_option(p)

    p = sub.add_parser("gather-vectors", help="shards' vectors -> prepared dataset directory")
    p.add_argument(
        "--parts", nargs="*", default=[], help="vectorize-shard outputs, in order (none: here)"
    )
    p.add_argument("--reviews", required=True, help="the domain's merged reviews table")
    p.add_argument("--split", required=True)
    p.add_argument("--vocabulary", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--domain", required=True)
    _add_weighting_options(p)
    _add_text_options(p)
    _add_hashing_option(p)

    # Hashed features in one pass (logreg.data.reviews.hashed_stage).
    p = sub.add_parser("hash-shard", help="hashed term counts of one shard's reviews, one pass")
    _add_shard_options(p)
    p.add_argument("--split", required=True)
    p.add_argument("--out-dir", required=True)
    _add_tokenizer_options(p)
    _add_hashing_option(p, required=True)

    p = sub.add_parser("merge-hashed", help="shards' hashed counts -> prepared dataset directory")
    p.add_argument(
        "--parts", nargs="*", default=[], help="hash-shard outputs, in order (none: hash here)"
    )
    p.add_argument("--reviews", required=True, help="the domain's merged reviews table")
    p.add_argument("--split", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--domain", required=True)
    _add_weighting_options(p)
    _add_text_options(p)
    _add_hashing_option(p, required=True)
    return parser


def _add_weighting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weighting", choices=WEIGHTINGS, required=True)
    parser.add_argument(
        "--sublinear-tf",
        type=_bool,
        required=True,
        help="replace each count c by 1 + ln(c) (true/false)",
    )


def _add_hashing_option(parser: argparse.ArgumentParser, required: bool = False) -> None:
    if required:
        parser.add_argument(
            "--hashing",
            type=_positive_int,
            required=True,
            help="hash terms into 2**HASHING columns",
        )
        return
    parser.add_argument(
        "--hashing",
        type=_optional_size,
        default=None,
        help="hash terms into 2**HASHING columns instead of a vocabulary, or none",
    )


def _vectorizer(args: argparse.Namespace):
    from logreg.data.reviews.vectorize import Vectorizer
    from logreg.errors import ConfigError

    if args.hashing is not None and getattr(args, "max_size", None) is not None:
        raise ConfigError(
            "text.max_size",
            f"got {args.max_size}, but text.hashing={args.hashing} has no vocabulary to cut; "
            "set it to null",
        )
    return Vectorizer(
        stopwords=args.stopwords,
        bigrams=args.bigrams,
        min_count=getattr(args, "min_count", 1),
        max_size=getattr(args, "max_size", None),
        weighting=getattr(args, "weighting", "counts"),
        sublinear_tf=getattr(args, "sublinear_tf", False),
        hashing=args.hashing,
    )


def _run_sharded(args: argparse.Namespace) -> None:
    from logreg.data.reviews import sharded, shards

    if args.command == "parse-shard":
        shards.parse_shard(args.files, args.shard, args.n_shards, args.out)
    elif args.command == "merge-reviews":
        shards.merge_reviews(args.files, args.shards, args.out)
    elif args.command == "count-terms":
        sharded.count_stage(
            args.reviews, args.shard, args.split, args.out, _vectorizer(args), args.fields
        )
    elif args.command == "merge-counts":
        sharded.merge_counts_stage(
            args.counts, args.out, _vectorizer(args), args.reviews, args.split, args.fields
        )
    elif args.command == "vectorize-shard":
        sharded.vectorize_shard_stage(
            args.reviews,
            args.shard,
            args.split,
            args.vocabulary,
            args.out_dir,
            _vectorizer(args),
            args.fields,
        )
    elif args.command == "hash-shard":
        from logreg.data.reviews import hashed_stage

        hashed_stage.hash_shard_stage(
            args.reviews, args.shard, args.split, args.out_dir, _vectorizer(args), args.fields
        )
    elif args.command == "merge-hashed":
        from logreg.data.reviews import hashed_stage

        hashed_stage.merge_hashed_stage(
            args.parts,
            args.reviews,
            args.split,
            args.out_dir,
            args.domain,
            _vectorizer(args),
            args.fields,
        )
    else:
        sharded.gather_stage(
            args.parts,
            args.reviews,
            args.split,
            args.vocabulary,
            args.out_dir,
            args.domain,
            _vectorizer(args),
            args.fields,
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Run one stage; see :func:`build_parser`."""
    args = build_parser().parse_args(argv)
    # Imported per command: `download` should not pay for pandas and bs4.
    if args.command == "demo":
        from logreg.data.reviews.demo import write_demo_data

        write_demo_data(args.out_dir, args.domains, args.seed, args.n_per_file)
    elif args.command == "download":
        from logreg.data.reviews.download import URL, download_reviews

        download_reviews(args.out_dir, args.domains, args.checksums, args.url or URL, args.timeout)
    elif args.command in _SHARDED:
        _run_sharded(args)
    else:
        from logreg.data.reviews import stages

        if args.command == "parse":
            stages.parse_stage(args.files, args.out)
        elif args.command == "split":
            stages.split_stage(
                args.reviews, args.out, args.test_fraction, args.val_fraction, args.seed
            )
        elif args.command == "vocabulary":
            stages.vocabulary_stage(
                args.reviews,
                args.split,
                args.out,
                args.stopwords,
                args.bigrams,
                args.min_count,
                args.max_size,
                fields=args.fields,
            )
        else:
            stages.vectorize_stage(
                args.reviews,
                args.split,
                args.vocabulary,
                args.out_dir,
                args.domain,
                args.stopwords,
                args.bigrams,
                args.min_count,
                args.max_size,
                args.weighting,
                sublinear_tf=args.sublinear_tf,
                fields=args.fields,
            )


if __name__ == "__main__":
    run_cli(main)
