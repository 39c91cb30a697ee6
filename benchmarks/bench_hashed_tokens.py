"""CPU per review of the compiled tokenize + hash against the Python path, in one run.

For each reviews table given (a ``reviews.parquet`` of the parse stage), two rounds of:
the compiled :class:`~logreg.data.reviews.hashed_tokens.HashedTokenizer` (tokenize, hash
and count every review's columns), the Python ``Tokenizer`` alone, and the rest of the
two-pass hashed stages in Python (the count pass's hashed counts, then the vectors).

Usage (from the repository root, with the project's venv on the PATH)::

    PYTHONPATH=src python benchmarks/bench_hashed_tokens.py reviews.parquet [...]
"""

from __future__ import annotations

import sys
import time

import pyarrow.parquet as pq

from logreg.data.reviews.hashed_stage import arrow_texts
from logreg.data.reviews.hashed_tokens import HashedTokenizer
from logreg.data.reviews.vectorize import Vectorizer


def main(paths: list[str]) -> None:
    for path in paths:
        table = pq.read_table(path, columns=["title", "review_text"]).combine_chunks()
        texts = arrow_texts(table.to_batches()[0])
        strings = texts.to_pylist()
        n = len(strings)
        options = {"stopwords": False, "bigrams": True, "hashing": 20, "min_count": 1}
        hasher = HashedTokenizer(Vectorizer(**options).tokenizer, 20)
        hasher.transform(texts[:10])  # compiled, or loaded from numba's cache, before timing
        for round_ in range(2):
            start = time.process_time()
            hasher.transform(texts)
            compiled = time.process_time() - start
            vectorizer = Vectorizer(**options)
            start = time.process_time()
            documents = [vectorizer.tokenizer(text) for text in strings]
            tokenize = time.process_time() - start
            start = time.process_time()
            vectorizer.set_hashed_counts(vectorizer.count_hashed(documents))
            vectorizer.transform_terms(documents)
            rest = time.process_time() - start
            print(
                f"{path}: {n} reviews ({sum(not s.isascii() for s in strings)} non-ASCII), "
                f"round {round_}: compiled tokenize+hash+count {compiled / n * 1e3:.4f} ms; "
                f"Python tokenize {tokenize / n * 1e3:.4f} ms, then count pass + vectorize "
                f"{rest / n * 1e3:.4f} ms per review"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
