"""The real electronics reviews through the data stage, for the solver tests on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from logreg.data.reviews.__main__ import main as reviews_cli
from paths import SHARED_DATA

REAL = SHARED_DATA / "sentiment" / "sorted_data_acl" / "electronics"


def electronics_training_split(
    out: Path, *, stopwords: bool, bigrams: bool, sublinear_tf: bool
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The training split (seed 2013) vectorized into ``out`` by the data stage's commands,
    tf-idf with the given text options; returns ``(X_train, y_train)``."""
    table, split, vocabulary = out / "reviews.parquet", out / "split.parquet", out / "vocab.tsv"
    reviews_cli(["parse", str(REAL / "positive.review"), str(REAL / "negative.review"),
                 "--out", str(table)])  # fmt: skip
    reviews_cli(["split", "--reviews", str(table), "--out", str(split), "--test-fraction",
                 "0.2", "--val-fraction", "0.1", "--seed", "2013"])  # fmt: skip
    text = ["--stopwords", str(stopwords).lower(), "--bigrams", str(bigrams).lower(),
            "--min-count", "2", "--max-size", "none", "--fields", "title,review_text"]  # fmt: skip
    reviews_cli(["vocabulary", "--reviews", str(table), "--split", str(split), "--out",
                 str(vocabulary), *text])  # fmt: skip
    weighting = ["--weighting", "tfidf", "--sublinear-tf", str(sublinear_tf).lower()]
    reviews_cli(["vectorize", "--reviews", str(table), "--split", str(split), "--vocabulary",
                 str(vocabulary), "--out-dir", str(out / "prepared"), "--domain",
                 "electronics", *text, *weighting])  # fmt: skip
    X = sp.load_npz(out / "prepared" / "X_train.npz").tocsr()
    return X, np.load(out / "prepared" / "y_train.npy")
