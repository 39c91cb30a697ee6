"""The file-to-file stages the workflow runs, one function per Snakemake rule.

Each reads its inputs, calls the pure functions of the stage modules and writes its
output atomically, so a failure leaves no partial file and earlier results intact.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from logreg.data.prepared import SPLITS, PreparedDataset, save_prepared
from logreg.data.reviews.parse import (
    CLASS_NAMES,
    checked_batches,
    iter_reviews,
    read_reviews_arrow,
    read_reviews_table,
    write_reviews,
)
from logreg.data.reviews.split import read_split, split_arrow, write_split
from logreg.data.reviews.tokenize import Tokenizer, bundled_stopwords
from logreg.data.reviews.vectorize import Vectorizer
from logreg.data.reviews.vocabulary import (
    build_vocabulary,
    read_vocabulary_tsv,
    write_vocabulary_tsv,
)
from logreg.errors import ConfigError, DataError
from logreg.fileio import atomic_dir

log = logging.getLogger(__name__)

#: The fields whose text is vectorized, joined by a newline.
TEXT_FIELDS = ("title", "review_text")


def document_texts(reviews: pd.DataFrame, fields: Sequence[str] = TEXT_FIELDS) -> list[str]:
    """The text vectorized for each review: its ``fields`` (by default its title and its
    review_text) joined by a newline."""
    unknown = [f for f in fields if f not in TEXT_FIELDS]
    if unknown or not fields:
        raise ConfigError(
            "text.fields", f"got {list(fields)}, expected a non-empty subset of {list(TEXT_FIELDS)}"
        )
    texts = reviews[fields[0]]
    for name in fields[1:]:
        texts = texts + "\n" + reviews[name]
    return texts.tolist()


def parse_stage(review_files: Sequence[str | os.PathLike], out: str | os.PathLike) -> None:
    """Parse a domain's ``positive.review`` and ``negative.review`` into ``out`` (Parquet)."""
    # Streamed: memory holds one batch of reviews, whatever the size of the files.
    sources: dict[str, str] = {}
    rows = iter_reviews([(path, None) for path in review_files], sources)
    n_reviews, n_positive = write_reviews(
        checked_batches(rows), out, sources, require_both_labels=review_files
    )
    log.info("wrote %d reviews (%d positive) to %s", n_reviews, n_positive, out)


def split_stage(
    reviews_path: str | os.PathLike,
    out: str | os.PathLike,
    test_fraction: float,
    val_fraction: float,
    seed: int,
) -> None:
    """Write the stratified, seeded split of a reviews table to ``out`` (Parquet)."""
    # Ids and labels only, as Arrow arrays: the split never reads the texts of a large
    # table, nor makes a Python object per review.
    reviews, _ = read_reviews_arrow(reviews_path, columns=["unique_id", "label"])
    split = split_arrow(reviews, test_fraction, val_fraction, seed)
    write_split(split, out)
    counts = pc.value_counts(split["split"]).to_pylist()
    log.info("split %s: %s", reviews_path, {c["values"]: c["counts"] for c in counts})


def _train_texts(reviews: pd.DataFrame, split: pd.Series, fields: Sequence[str]) -> list[str]:
    return document_texts(reviews[(split == "train").to_numpy()], fields)


def vocabulary_stage(
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    out: str | os.PathLike,
    stopwords: bool,
    bigrams: bool,
    min_count: int,
    max_size: int | None,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Count the terms of the *training* reviews and write the vocabulary TSV to ``out``."""
    reviews, _ = read_reviews_table(reviews_path)
    texts = _train_texts(reviews, read_split(split_path, reviews), fields)
    tokenizer = Tokenizer(bundled_stopwords() if stopwords else (), bigrams)
    vocabulary = build_vocabulary((tokenizer(t) for t in texts), min_count, max_size)
    if len(vocabulary) == 0:
        raise ConfigError(
            "text.min_count",
            f"no term occurs in {min_count} or more of the {len(texts)} training reviews; lower it",
        )
    write_vocabulary_tsv(vocabulary, out)
    log.info(
        "vocabulary of %d terms from %d training reviews -> %s", len(vocabulary), len(texts), out
    )


def vectorize_stage(
    reviews_path: str | os.PathLike,
    split_path: str | os.PathLike,
    vocabulary_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    domain: str,
    stopwords: bool,
    bigrams: bool,
    min_count: int,
    max_size: int | None,
    weighting: str,
    sublinear_tf: bool = False,
    fields: Sequence[str] = TEXT_FIELDS,
) -> None:
    """Write the prepared dataset of a domain (and its ``vectorizer.json``) to ``out_dir``.

    The vectorizer's options must be those the vocabulary was built with; a vocabulary
    term this tokenizer cannot produce is reported as an error.
    """
    reviews, sources = read_reviews_table(reviews_path)
    split = read_split(split_path, reviews)
    vectorizer = Vectorizer(
        stopwords=stopwords,
        bigrams=bigrams,
        min_count=min_count,
        max_size=max_size,
        weighting=weighting,
        sublinear_tf=sublinear_tf,
    )
    set_vocabulary_file(vectorizer, vocabulary_path, n_documents=int((split == "train").sum()))
    X, y = {}, {}
    for name in SPLITS:
        rows = reviews[(split == name).to_numpy()]
        X[name] = vectorizer.transform(document_texts(rows, fields))
        y[name] = rows["label"].to_numpy(dtype="int64")
        log.info(
            "%s %s: %d reviews x %d terms, %d non-zeros",
            domain,
            name,
            X[name].shape[0],
            X[name].shape[1],
            X[name].nnz,
        )
    write_prepared(out_dir, domain, vectorizer, X, y, sources, fields)
    log.info("wrote the prepared dataset of %s to %s", domain, out_dir)


def set_vocabulary_file(
    vectorizer: Vectorizer, vocabulary_path: str | os.PathLike, n_documents: int
) -> Vectorizer:
    """``vectorizer`` with the vocabulary TSV at ``vocabulary_path`` (``n_documents``
    training reviews); a term its tokenizer cannot produce is a DataError naming the file."""
    # Read outside the try: a malformed file already raises a DataError naming its line.
    vocabulary = read_vocabulary_tsv(vocabulary_path)
    try:
        return vectorizer.set_vocabulary(vocabulary, n_documents=n_documents)
    except ValueError as exc:
        raise DataError(
            f"{exc}; was the vocabulary built with other text options? Rerun the vocabulary stage",
            where=vocabulary_path,
        ) from exc


def write_prepared(
    out_dir: str | os.PathLike,
    domain: str,
    vectorizer: Vectorizer,
    X: dict,
    y: dict,
    sources: dict[str, str],
    fields: Sequence[str],
) -> None:
    """Write a domain's prepared folder: vectors, labels, ``meta.json``, ``vectorizer.json``."""
    meta = prepared_meta(domain, vectorizer, sources, fields)
    with atomic_dir(out_dir) as tmp:
        # save_prepared swaps in a complete directory at `tmp`; the vectorizer is added
        # after it, and the whole folder reaches `out_dir` only when both are written.
        save_prepared(tmp, PreparedDataset(X=X, y=y, meta=meta))
        vectorizer.save(Path(tmp) / "vectorizer.json")


def prepared_meta(
    domain: str,
    vectorizer: Vectorizer,
    sources: dict[str, str],
    fields: Sequence[str],
) -> dict:
    """The ``meta.json`` of a domain's prepared folder.

    Which review each row is, it does not list (10^7 ids at 10^7 reviews, most of the
    file and of a run's memory): row ``i`` of a split is the ``i``-th review of that split
    in ``split.parquet``, in table order (:func:`logreg.data.reviews.split.split_ids`).
    """
    return {
        "kind": "reviews",
        "name": domain,
        "class_names": CLASS_NAMES,
        "feature_names": vectorizer.feature_names,
        "weighting": vectorizer.weighting,
        "source_files": sources,
        # Every text option this folder was made with: what cross-validation refits per
        # fold (logreg.experiment.text_features.TextOptions.from_meta) and what a run records.
        "text": {"fields": list(fields), **vectorizer.text_options()},
    }
