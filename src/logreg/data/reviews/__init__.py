"""The review branch of the data stages: Multi-Domain Sentiment Dataset -> sparse vectors.

Stages (one Snakemake rule each, see ``workflow/rules/reviews.smk`` and
``python -m logreg.data.reviews --help``):

0. :mod:`~logreg.data.reviews.demo` / :mod:`~logreg.data.reviews.download`: the raw ``.review``
   files, generated from a seed or downloaded and checked against recorded sha256 sums.
1. :mod:`~logreg.data.reviews.parse`: the raw files of a domain -> a Parquet table.
2. :mod:`~logreg.data.reviews.split`: stratified, seeded train/val/test split.
3. :mod:`~logreg.data.reviews.vocabulary`: the vocabulary of the training split, with the
   tokenizer of :mod:`~logreg.data.reviews.tokenize`.
4. :mod:`~logreg.data.reviews.vectorize`: CSR vectors (counts, binary, proportions, tf-idf)
   written as a prepared dataset with its :class:`Vectorizer` as JSON.
"""

from logreg.data.reviews.tokenize import Tokenizer
from logreg.data.reviews.vectorize import Vectorizer

__all__ = ["Tokenizer", "Vectorizer"]
