"""The tokenizer of the reviews: text -> the list of terms a vocabulary counts.

Steps, in order:

1. Unicode NFKC normalization (full-width letters, ligatures and compatibility forms
   become their plain equivalents: "ﬁne" -> "fine"), then the typographic apostrophes
   ’ ‘ ʼ become ``'`` so that "don’t" and "don't" are one token.
2. Lowercasing (``str.lower``).
3. Word tokens: maximal runs of letters and digits (any script), with apostrophes kept
   *inside* a word: "don't", "product's"; a leading or trailing apostrophe is dropped.
   Punctuation, underscores, the U+FFFD/U+001A left by the dataset's lost accents and
   everything else separate tokens. See :data:`TOKEN_PATTERN`.
4. Stop words (optional): the bundled list ``logreg/resources/stopwords.txt`` is removed.
   It keeps negations ("not", "no", "never", "don't", ...) because they carry sentiment.
5. Bigrams (optional): every pair of adjacent tokens *kept* by step 4, joined by one
   space, is appended after the unigrams ("not worth it" -> "not", "worth", "not worth").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: Letters/digits (``[^\W_]``), optionally joined by single inner apostrophes.
TOKEN_PATTERN = r"[^\W_]+(?:'[^\W_]+)*"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@lru_cache(maxsize=1)
def bundled_stopwords() -> frozenset[str]:
    """The bundled English stop-word list (comment lines starting with ``#`` skipped)."""
    text = (resources.files("logreg") / "resources" / "stopwords.txt").read_text("utf-8")
    return frozenset(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def normalize(text: str) -> str:
    """NFKC-normalize, unify apostrophes and lowercase ``text`` (steps 1-2)."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()


@dataclass(frozen=True)
class Tokenizer:
    """Split review text into terms (see the module docstring for the exact steps).

    Parameters
    ----------
    stopwords : frozenset of str (any iterable is accepted)
        Tokens to drop (already normalized); empty keeps every token.
    bigrams : bool
        Append the bigrams of adjacent kept tokens.
    pattern : str
        Regular expression of a word token; stored with a fitted vectorizer so a saved
        model tokenizes exactly as it did when it was trained.
    """

    stopwords: frozenset[str] = frozenset()
    bigrams: bool = False
    pattern: str = TOKEN_PATTERN

    def __post_init__(self):
        # Accept any iterable of stop words; compile the pattern once.
        object.__setattr__(self, "stopwords", frozenset(self.stopwords))
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def words(self, text: str) -> list[str]:
        """Unigram tokens of ``text`` after normalization and stop-word removal."""
        return [
            token for token in self._regex.findall(normalize(text)) if token not in self.stopwords
        ]

    def __call__(self, text: str) -> list[str]:
        """All terms of ``text``: unigrams, then bigrams if enabled."""
        words = self.words(text)
        if not self.bigrams:
            return words
        return words + list(map(" ".join, zip(words, words[1:])))
