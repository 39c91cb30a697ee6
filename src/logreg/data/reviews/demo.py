"""Demo review files in the exact raw format of the original release, from a seed.

The workflow runs on these by default, so it needs no download. The files reproduce the
quirks of the real ones (see the data README): no root element, every tag alone on its
line, the 11 fields in fixed order, a raw ``&`` (product types such as
``kitchen & housewares``), ``&quot;`` and numeric entities (``&#45;``, ``&#174;``), a few
double-escaped ``&amp;quot;``, ``&lt;`` for ``<``, empty ``helpful``/``reviewer``/
``reviewer_location`` fields, trailing spaces, U+FFFD for a lost accent and a
multi-paragraph ``review_text``.

The text is made of sentences about the product: neutral ones, and sentiment phrases
that agree with the review's label about three times in four (some with a negation,
"not worth the money"), so a linear model learns the task well above chance but not
perfectly.
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from logreg.data.reviews.demo_text import (
    CATALOGS,
    GENERIC_CATALOG,
    LOCATIONS,
    MONTHS,
    NAMES,
    NEUTRAL,
    PHRASES,
    TITLES,
)
from logreg.data.reviews.records import FIELDS
from logreg.fileio import write_text_atomic

log = logging.getLogger(__name__)

POLARITIES = ("negative", "positive")
#: Probability that a sentiment phrase agrees with the review's label.
AGREEMENT = 0.75


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _fill(template: str, catalog: dict, rng: np.random.Generator) -> str:
    """Replace each ``{slot}`` by a random entry of ``catalog[slot]`` (or a number)."""

    def choose(match: re.Match) -> str:
        slot = match.group(1)
        return str(int(rng.integers(2, 13))) if slot == "n" else _pick(rng, catalog[slot])

    # A filled slot may bring its own slots ("for my {relative}"): fill until none is left.
    while "{" in template:
        template = re.sub(r"\{(\w+)\}", choose, template)
    return template


def _sentence(text: str, rng: np.random.Generator) -> str:
    text = text[0].upper() + text[1:]
    return text + ("!" if rng.random() < 0.15 else ".")


def _review_text(polarity: str, catalog: dict, rng: np.random.Generator) -> str:
    other = POLARITIES[1 - POLARITIES.index(polarity)]
    sentences = []
    for _ in range(int(rng.integers(2, 6))):
        if rng.random() < AGREEMENT:
            bank = PHRASES[polarity]["negated" if rng.random() < 0.2 else "plain"]
        else:
            bank = PHRASES[other]["plain"]
        sentences.append(_sentence(_fill(_pick(rng, bank), catalog, rng), rng))
    for _ in range(int(rng.integers(2, 6))):
        sentences.append(_sentence(_fill(_pick(rng, NEUTRAL), catalog, rng), rng))
    if rng.random() < 0.04:
        # Double-escaped in the raw file: the decoded text keeps a literal "&quot;".
        sentences.append(_fill("The label says &quot;{care}&quot;.", catalog, rng))
    if rng.random() < 0.03:
        sentences.append("The caf\ufffd down the street sells them too.")
    sentences = [sentences[i] for i in rng.permutation(len(sentences))]
    cuts = sorted(
        rng.choice(np.arange(1, len(sentences)), size=int(rng.integers(0, 3)), replace=False)
    )
    paragraphs = [" ".join(sentences[a:b]) for a, b in zip([0, *cuts], [*cuts, None])]
    # Trailing spaces inside the text, as in the originals (the last line is stripped).
    paragraphs = [p + ("  " if rng.random() < 0.1 else "") for p in paragraphs[:-1]] + paragraphs[
        -1:
    ]
    return "\n\n".join(paragraphs)


def _slug(text: str) -> str:
    return text.lower().replace(" ", "_")


def make_review(domain: str, polarity: str, rng: np.random.Generator) -> dict[str, str]:
    """One demo review as decoded field values (what the parser must return)."""
    catalog = CATALOGS.get(domain, GENERIC_CATALOG)
    product, noun = catalog["product"][int(rng.integers(len(catalog["product"])))]
    catalog = {**catalog, "product_noun": [noun]}
    product_type = domain.replace("_", " ")
    asin = f"B000{zlib.crc32(product.encode('utf-8')):08X}"[:10]  # one ASIN per product
    if rng.random() < 0.75:
        title = _fill(_pick(rng, TITLES[polarity]), catalog, rng)
    else:
        title = _fill(_pick(rng, TITLES["neutral"]), catalog, rng)
    reviewer = "" if rng.random() < 0.05 else _pick(rng, NAMES)
    if reviewer and rng.random() < 0.05:
        reviewer += ' "' + _pick(rng, ("gadget fan", "home cook", "Looser")) + '"'
    helpful = ""
    if rng.random() < 0.65:
        total = int(rng.integers(1, 21))
        helpful = f"{int(rng.integers(0, total + 1))} of {total}"
    rating = (
        ("1.0" if rng.random() < 0.65 else "2.0")
        if polarity == "negative"
        else ("5.0" if rng.random() < 0.65 else "4.0")
    )
    date = f"{_pick(rng, MONTHS)} {int(rng.integers(1, 29))}, {int(rng.integers(1999, 2008))}"
    return {
        "unique_id": f"{asin}:{_slug(title)}:{_slug(reviewer) or 'a_customer'}",
        "asin": asin,
        "product_name": f"{product}: {product_type.title()}",
        "product_type": product_type,
        "helpful": helpful,
        "rating": rating,
        "title": title,
        "date": date,
        "reviewer": reviewer,
        "reviewer_location": "" if rng.random() < 0.3 else _pick(rng, LOCATIONS),
        "review_text": _review_text(polarity, catalog, rng),
    }


def _encode(value: str, name: str, rng: np.random.Generator) -> str:
    """Encode a decoded value the way the original files do."""
    # An '&' that would read as an entity is escaped; any other '&' stays raw.
    value = re.sub(r"&(?=#?\w+;)", "&amp;", value)
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    if name in ("title", "review_text"):
        value = value.replace('"', "&quot;")
        value = re.sub(r"-", lambda m: "&#45;" if rng.random() < 0.3 else "-", value)
    return re.sub(r"[^\x00-\x7f\ufffd]", lambda m: f"&#{ord(m.group())};", value)


def format_review(review: dict[str, str], rng: np.random.Generator) -> str:
    """The raw lines of one review, ending with a newline."""
    lines = ["<review>"]
    for name in FIELDS:
        value = _encode(review[name], name, rng)
        if name == "review_text" and rng.random() < 0.5:
            value += "\n"  # half of the originals end the text with a blank line
        lines += [f"<{name}>", value, f"</{name}>"]
    lines.append("</review>")
    return "\n".join(lines) + "\n"


def domain_generator(seed: int, domain: str) -> np.random.Generator:
    """The generator of one domain: the same files whichever domains are written."""
    return np.random.default_rng([seed, zlib.crc32(domain.encode("utf-8"))])


def make_domain(
    domain: str, n_per_file: int, rng: np.random.Generator
) -> dict[str, tuple[list[dict[str, str]], str]]:
    """Reviews of both polarities of a domain: ``{polarity: (reviews, raw file text)}``."""
    files, used = {}, set()
    for polarity in POLARITIES:
        reviews, chunks = [], []
        for _ in range(n_per_file):
            review = make_review(domain, polarity, rng)
            base, k = review["unique_id"], 2
            while review["unique_id"] in used:
                review["unique_id"], k = f"{base}_{k}", k + 1
            used.add(review["unique_id"])
            reviews.append(review)
            chunks.append(format_review(review, rng))
        files[polarity] = (reviews, "".join(chunks))
    return files


def write_demo_data(
    out_dir: str | os.PathLike, domains: Sequence[str], seed: int, n_per_file: int = 150
) -> list[Path]:
    """Write ``<out_dir>/<domain>/{positive,negative}.review`` for every domain.

    Parameters
    ----------
    out_dir : path-like
    domains : sequence of str
        Domain names (folder names; may contain ``&``). Known ones (electronics,
        kitchen_&_housewares, books, dvd) get their own product words.
    seed : int
        Same seed, same bytes.
    n_per_file : int
        Reviews per file.

    Returns
    -------
    list of Path
        The files written.
    """
    if n_per_file < 1:
        raise ValueError(f"n_per_file must be >= 1, got {n_per_file}")
    written = []
    for domain in domains:
        for polarity, (_, text) in make_domain(
            domain, n_per_file, domain_generator(seed, domain)
        ).items():
            path = Path(out_dir) / domain / f"{polarity}.review"
            write_text_atomic(path, text)
            written.append(path)
            log.info("wrote %d demo reviews to %s", n_per_file, path)
    return written
