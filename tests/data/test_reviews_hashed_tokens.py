"""The compiled tokenize + hash gives the Python tokenizer's hashed rows, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.reviews.__main__ import main as reviews_cli
from logreg.data.reviews.hashed_tokens import HashedTokenizer
from logreg.data.reviews.hashing import hashed_columns
from logreg.data.reviews.parse import parse_reviews
from logreg.data.reviews.stages import document_texts
from logreg.data.reviews.tokenize import Tokenizer, bundled_stopwords
from paths import SHARED_DATA

REAL = SHARED_DATA / "sentiment" / "sorted_data_acl"
EDGE_CASES = [
    "",
    "   \n\t ",
    "Don't buy it!",
    "'quoted' 'a' b' 'c '' x''y it's rock'n'roll a'b'c'",
    "under_score __init__ __ _a_ b_ _",
    "123abc 4.5 stars, 1,000 times 2nd",
    "The THE the and of it not worth it, not the best",  # stop words between bigrams
    "x",
    "a b",
    "Café crème, ﬁne, don’t, ÄPFEL, 中文 words",  # non-ASCII: the Python path
    "naïve but ok",
    "\x1a lost\x1aaccent \ufffd here",
    "ends with apostrophe'",
    "'",
    "MiXeD CaSe WoRdS",
    "tab\tseparated\nnew line\r\nwindows",
]


def python_rows(tokenizer: Tokenizer, texts: list[str], n_bits: int):
    """Each text's (columns, counts, length) by the Python tokenizer and hash."""
    rows = []
    for text in texts:
        terms = tokenizer(text)
        columns, counts = np.unique(hashed_columns(terms, n_bits), return_counts=True)
        rows.append((columns, counts, len(terms)))
    return rows


def assert_same_rows(tokenizer: Tokenizer, texts: list[str], n_bits: int) -> None:
    hasher = HashedTokenizer(tokenizer, n_bits)
    indptr, columns, counts, lengths, names = hasher.transform(texts, np.ones(len(texts), bool))
    assert len(indptr) == len(texts) + 1 and columns.dtype == counts.dtype == np.int32
    for i, (expected_columns, expected_counts, length) in enumerate(
        python_rows(tokenizer, texts, n_bits)
    ):
        row = slice(indptr[i], indptr[i + 1])
        assert columns[row].tolist() == expected_columns.tolist(), texts[i]
        assert counts[row].tolist() == expected_counts.tolist(), texts[i]
        assert lengths[i] == length, texts[i]
    # Fallback names: each a term of some text, hashed into its column, each column once.
    assert len({column for column, _ in names}) == len(names)
    if names:
        assert hashed_columns([t for _, t in names], n_bits).tolist() == [c for c, _ in names]


TOKENIZERS = {
    "plain": Tokenizer(),
    "stopwords": Tokenizer(bundled_stopwords()),
    "bigrams": Tokenizer((), bigrams=True),
    "stopwords+bigrams": Tokenizer(bundled_stopwords(), bigrams=True),
}


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("n_bits", [4, 20])
def test_edge_cases_hash_as_in_python(name, n_bits):
    assert_same_rows(TOKENIZERS[name], EDGE_CASES, n_bits)
    # One text at a time too: nothing depends on the batch.
    for text in EDGE_CASES:
        assert_same_rows(TOKENIZERS[name], [text], n_bits)


def test_demo_reviews_hash_as_in_python(tmp_path):
    reviews_cli(["demo", "--out-dir", str(tmp_path), "--domains", "books", "--seed", "5",
                 "--n-per-file", "100"])  # fmt: skip
    books = tmp_path / "books"
    table, _ = parse_reviews([books / "positive.review", books / "negative.review"])
    texts = document_texts(table)
    for tokenizer in TOKENIZERS.values():
        assert_same_rows(tokenizer, texts, 20)


@pytest.mark.skipif(not REAL.is_dir(), reason="the real reviews are not on this machine")
@pytest.mark.parametrize("domain", ["electronics", "kitchen_&_housewares"])
def test_every_real_review_hashes_as_in_python(domain):
    folder = REAL / domain
    table, _ = parse_reviews([folder / "positive.review", folder / "negative.review"])
    texts = document_texts(table)
    assert sum(not text.isascii() for text in texts) > 0  # both paths are exercised
    for name in ("plain", "stopwords+bigrams"):
        assert_same_rows(TOKENIZERS[name], texts, 20)


def test_only_tokens_of_the_standard_pattern_are_compiled():
    with pytest.raises(ValueError, match="TOKEN_PATTERN only"):
        HashedTokenizer(Tokenizer(pattern=r"\w+"), 10)
