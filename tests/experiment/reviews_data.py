"""The review data stage run in a test folder: parse, split, vocabulary, vectorize."""

from __future__ import annotations

from pathlib import Path

from logreg.data.reviews.stages import parse_stage, split_stage, vectorize_stage, vocabulary_stage


def prepare_domain(raw_dir: Path, results_dir: Path, source: str, domain: str) -> Path:
    """Write ``<results_dir>/data/reviews/<source>/<domain>/`` as the workflow would
    (default text options, seed 2013); return that folder."""
    out = results_dir / "data" / "reviews" / source / domain
    out.mkdir(parents=True, exist_ok=True)
    files = [raw_dir / domain / "positive.review", raw_dir / domain / "negative.review"]
    parse_stage(files, out / "reviews.parquet")
    split_stage(out / "reviews.parquet", out / "split.parquet", 0.2, 0.1, 2013)
    options = {"stopwords": True, "bigrams": False, "min_count": 2, "max_size": None}
    vocabulary_stage(
        out / "reviews.parquet", out / "split.parquet", out / "vocabulary.tsv", **options
    )
    vectorize_stage(
        out / "reviews.parquet",
        out / "split.parquet",
        out / "vocabulary.tsv",
        out / "prepared",
        domain,
        weighting="tfidf",
        **options,
    )
    return out
