"""The hostile-input corpus, generated at test time (nothing big or binary is committed).

Each case is a name, what it is, the bytes of the hostile file and a regular
expression for the one error line a user must see (``error: <file>:<line>: <what>``).
The test modules write the bytes into ``tmp_path`` and run the real entry points on
them; :func:`harness.record` turns what they saw into ``docs/errors.md``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logreg.data.reviews.records import FIELDS

# --- reviews -------------------------------------------------------------------------

DEFAULTS = {
    "unique_id": "B0002D31QU:buyer_beware:cmkb396",
    "asin": "B0002D31QU",
    "product_name": "Anti-Bark Dog Collar: Kitchen & Housewares",
    "product_type": "kitchen & housewares",
    "helpful": "1 of 1",
    "rating": "5.0",
    "title": "Works",
    "date": "November 9, 2006",
    "reviewer": "D. Overton",
    "reviewer_location": "CA",
    "review_text": "It works.",
}


def review(**values: str) -> str:
    """One review in the original layout (values already entity-encoded)."""
    values = {**DEFAULTS, **values}
    lines = ["<review>"]
    for name in FIELDS:
        lines += [f"<{name}>", values[name], f"</{name}>"]
    return "\n".join([*lines, "</review>"]) + "\n"


def reviews(n: int, prefix: str, **values: str) -> str:
    return "".join(review(unique_id=f"{prefix}{i}", **values) for i in range(n))


GOOD_POSITIVE = reviews(3, "pos", rating="5.0", review_text="great, works well")
GOOD_NEGATIVE = reviews(3, "neg", rating="1.0", review_text="poor, it broke")

_BOMB = [
    "<!DOCTYPE lolz [",
    '<!ENTITY lol "lol">',
    *(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)),
    "]>",
]


def external_entity(url: str) -> bytes:
    """A review file declaring an external entity at ``url`` and using it."""
    head = f'<!DOCTYPE r [\n<!ENTITY x SYSTEM "{url}">\n]>\n'
    return (head + review(review_text="&x;")).encode()


@dataclass(frozen=True)
class Case:
    """A hostile input: ``content`` replaces a good file; ``error`` matches the message."""

    name: str
    what: str
    content: bytes
    error: str


def _without(text: str, name: str) -> str:
    """``text`` without the first element ``name`` (its three lines)."""
    start = text.index(f"<{name}>\n")
    end = text.index(f"</{name}>\n", start) + len(f"</{name}>\n")
    return text[:start] + text[end:]


def _cut_in_text(text: str) -> str:
    """``text`` cut after the first line of the review's text."""
    start = text.index("<review_text>\n") + len("<review_text>\n")
    return text[: text.index("\n", start) + 1]


# The hostile file is always data/dom/positive.review (line numbers refer to it).
REVIEW_CASES = [
    Case(
        "truncated",
        "file cut off in the middle of a tag",
        (GOOD_POSITIVE + review(unique_id="cut")[:150]).encode(),
        r"data/dom/positive\.review:116: expected <product_type> \(field 4 of 11\) of the "
        r"review starting at line 106, found '<product_typ' \(the file ends in this line: "
        r"truncated\?\)",
    ),
    Case(
        "truncated-in-text",
        "file cut off inside a review's text",
        (GOOD_POSITIVE + _cut_in_text(review(unique_id="cut"))).encode(),
        r"data/dom/positive\.review:138: file ends inside the review starting at line 106 "
        r"\(truncated\?\): expected </review_text> and </review>",
    ),
    Case(
        "no-close-text",
        "a review whose </review_text> is missing",
        GOOD_POSITIVE.replace("</review_text>\n", "", 1).encode(),
        r"data/dom/positive\.review:34: expected </review_text> to close the "
        r"<review_text> of line 32 before </review>",
    ),
    Case(
        "empty-text",
        "a review with an empty text",
        (review(review_text="") + GOOD_POSITIVE).encode(),
        r"data/dom/positive\.review:32: <review_text> of the review starting at line 1 "
        r"is empty",
    ),
    Case(
        "no-rating",
        "a review without a <rating> element",
        (_without(review(), "rating") + GOOD_POSITIVE).encode(),
        r"data/dom/positive\.review:17: expected <rating> \(field 6 of 11\) of the review "
        r"starting at line 1, found <title>",
    ),
    Case(
        "empty-rating",
        "a review whose rating is blank",
        (review(rating="") + GOOD_POSITIVE).encode(),
        r"data/dom/positive\.review:17: <rating> of the review starting at line 1 is "
        r"empty",
    ),
    Case(
        "empty-file",
        "an empty file",
        b"",
        r"data/dom/positive\.review: empty file: expected a sequence of <review> elements",
    ),
    Case(
        "latin1",
        "Latin-1 bytes (not UTF-8)",
        (GOOD_POSITIVE + review(unique_id="l", review_text="Caf\xe9 au lait")).encode("latin-1"),
        r"data/dom/positive\.review:138: not UTF-8: byte 0xe9 at column 4 cannot be "
        r"decoded",
    ),
    Case(
        "binary",
        "binary garbage",
        random.Random(6).randbytes(8192) + b"\x00",
        r"data/dom/positive\.review:\d+: (binary data \(a NUL byte|not UTF-8)",
    ),
    Case(
        "entity-bomb",
        "a DOCTYPE with nested entity definitions (billion laughs)",
        ("\n".join(_BOMB) + "\n" + review(review_text="&lol9;")).encode(),
        r"data/dom/positive\.review:1: markup declaration '<!DOCTYPE lolz \[' is not "
        r"allowed",
    ),
]


HUGE_LINE = (
    "a long review that goes on &amp; on, AT&T &quot;quoted&quot; and never ends "
) * 16 + "\n"


def write_huge_review(path: Path, n_bytes: int) -> int:
    """Write a file of one review whose text is ``n_bytes`` long; return its line count.

    The text is :data:`HUGE_LINE` repeated, written in chunks (never held whole).
    """
    head, tail = review(review_text="@TEXT@").split("@TEXT@")
    n_lines = -(-n_bytes // len(HUGE_LINE))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head)
        for _ in range(n_lines):
            fh.write(HUGE_LINE)
        fh.write(tail)
    return n_lines


# --- FER2013 -------------------------------------------------------------------------

FER_HEADER = "emotion,pixels,Usage"
_USAGES = ["Training"] * 14 + ["PublicTest"] * 7 + ["PrivateTest"] * 7


def fer_lines(seed: int = 0) -> list[str]:
    """A small valid FER2013 CSV (header + 28 rows, every class in every split)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (len(_USAGES), 48 * 48))
    return [FER_HEADER] + [
        f"{i % 7},{' '.join(map(str, p))},{u}" for i, (p, u) in enumerate(zip(pixels, _USAGES))
    ]


def _csv(lines: list[str], newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def _set_pixel(line: str, position: int, value: str) -> str:
    label, pixels, usage = line.split(",")
    values = pixels.split(" ")
    values[position - 1] = value
    return f"{label},{' '.join(values)},{usage}"


def _bad_line3(change) -> bytes:
    lines = fer_lines()
    lines[2] = change(lines[2])
    return _csv(lines)


# The hostile file is always data/fer.csv; its line 3 is the bad row.
FER_CASES = [
    Case(
        "wrong-pixel-count",
        "a row with 2,303 pixels",
        _bad_line3(lambda l: l.rsplit(" ", 1)[0] + "," + l.rsplit(",", 1)[1]),
        r"data/fer\.csv:3: pixels: expected 2304 values \(48x48\), got 2303",
    ),
    Case(
        "non-numeric-pixel",
        "a pixel 'abc'",
        _bad_line3(lambda l: _set_pixel(l, 10, "abc")),
        r"data/fer\.csv:3: pixels: value 10 is 'abc', not an integer in 0\.\.255",
    ),
    Case(
        "pixel-256",
        "a pixel 256",
        _bad_line3(lambda l: _set_pixel(l, 5, "256")),
        r"data/fer\.csv:3: pixels: value 5 is 256, expected an integer in 0\.\.255",
    ),
    Case(
        "pixel-minus-1",
        "a pixel -1",
        _bad_line3(lambda l: _set_pixel(l, 2304, "-1")),
        r"data/fer\.csv:3: pixels: value 2304 is -1, expected an integer in 0\.\.255",
    ),
    Case(
        "label-7",
        "emotion 7",
        _bad_line3(lambda l: "7" + l[1:]),
        r"data/fer\.csv:3: emotion: expected an integer label in 0\.\.6 \(Angry, .*\), "
        r"got '7'",
    ),
    Case(
        "unknown-usage",
        "Usage 'Validation'",
        _bad_line3(lambda l: l.replace("Training", "Validation")),
        r"data/fer\.csv:3: Usage: expected one of Training, PublicTest, PrivateTest, "
        r"got 'Validation'",
    ),
    Case(
        "missing-column",
        "no Usage column",
        _csv([line.rsplit(",", 1)[0] for line in fer_lines()]),
        r"data/fer\.csv:1: header: expected the columns emotion,pixels,Usage, got "
        r"'emotion,pixels' \(missing Usage\)",
    ),
    Case(
        "extra-column",
        "a fourth column",
        _csv([fer_lines()[0] + ",source"] + [l + ",x" for l in fer_lines()[1:]]),
        r"data/fer\.csv:1: header: .*\(unexpected 'source'\)",
    ),
    Case(
        "empty-file",
        "an empty file",
        b"",
        r"data/fer\.csv: empty file: expected a header line emotion,pixels,Usage",
    ),
    Case(
        "binary",
        "binary garbage",
        random.Random(6).randbytes(8192),
        r"data/fer\.csv:1: header: binary data, not CSV text \(byte 0xfe at column 1\); "
        r"expected the columns emotion,pixels,Usage",
    ),
    Case(
        "utf-16",
        "a UTF-16 file (Excel's 'Unicode text')",
        "\n".join(fer_lines()[:4]).encode("utf-16"),
        r"data/fer\.csv:1: header: binary data, not CSV text \(byte 0xff at column 1\); "
        r"expected the columns emotion,pixels,Usage",
    ),
    Case(
        "no-rows",
        "a header only",
        _csv([FER_HEADER]),
        r"data/fer\.csv: no data rows after the header line",
    ),
]
