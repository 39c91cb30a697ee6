"""The fast value decoder gives exactly what BeautifulSoup + lxml's HTML parser gives."""

from __future__ import annotations

import numpy as np
import pytest

from logreg.data.reviews.parse import decode_values, decode_values_reference
from logreg.data.reviews.records import FIELDS, RawReview, scan_reviews
from paths import SHARED_DATA

REAL = SHARED_DATA / "sentiment" / "sorted_data_acl"
REAL_FILES = sorted(REAL.glob("*/*.review"))


def raw(text: str) -> RawReview:
    """A review whose every value is ``text`` (as the scanner hands it over)."""
    return RawReview(line=1, values=dict.fromkeys(FIELDS, text))


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_FILES, reason=f"no real reviews under {REAL}")
def test_both_decoders_agree_on_every_real_review():
    n_reviews = n_with_entities = 0
    for path in REAL_FILES:
        with open(path, "rb") as stream:
            for review in scan_reviews(stream, path):
                assert decode_values(review) == decode_values_reference(review), (
                    f"{path}:{review.line}"
                )
                n_reviews += 1
                n_with_entities += any("&" in v for v in review.values.values())
    assert n_reviews == 1000 * len(REAL_FILES)
    assert n_with_entities > 100  # the comparison covered the entity decoding


@pytest.mark.parametrize(
    "text",
    [
        "AT&T &amp;quot;x&amp;quot; &quot;q&quot; &#45; &#x2014; &hellip; &apos;",
        "&copy 2006 &not;a &notit &ampx &lt &gt= &bogus; &Hellip; & &;",
        "&#150; &#x80; &#0; &#xD800; &#x110000; &#9999999999; &#65 &#128512;",
        "&#13; &#x0d; &#1; &#x7f; &#xFFFE; &#xFDD0;",  # handed to the reference decoder
        "a\rb \x0c\x1a\x80 \ufffe \u2028\xa0 <b>bold</b> <title>t</title>",
    ],
)
def test_both_decoders_agree_on_the_html5_corner_cases(text):
    assert decode_values(raw(text)) == decode_values_reference(raw(text))


_ALPHABET = list("&#xX;ampltquonc139 0AFe\r\n\t\x0c\x80\x1a\xe9\ufffd<>\"'b")


def test_both_decoders_agree_on_random_entity_soup():
    rng = np.random.default_rng(21)
    for _ in range(3000):
        text = "".join(rng.choice(_ALPHABET, size=rng.integers(1, 17)))
        assert decode_values(raw(text)) == decode_values_reference(raw(text)), repr(text)
