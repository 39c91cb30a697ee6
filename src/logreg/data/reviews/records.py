"""The layout of a ``.review`` file, checked line by line before any markup is parsed.

A file of the Multi-Domain Sentiment Dataset is not XML: it has no root element, raw
``&`` and HTML entities. What it does have is a rigid layout, which this module checks::

    <review>
    <unique_id>
    B0002D31QU:buyer_beware:cmkb396
    </unique_id>
    ...                     # the 11 fields of FIELDS, in that order
    <review_text>
    any number of lines, blank ones included
    </review_text>
    </review>

Every tag stands alone on its line. Scanning lines (instead of handing the whole file to
a parser) gives each review the line where it starts, lets a malformed file fail at the
exact line with what was expected there, and keeps memory proportional to one review,
not to the file. Decoding the values is left to :mod:`logreg.data.reviews.parse`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from logreg.errors import DataError

FIELDS = (
    "unique_id",
    "asin",
    "product_name",
    "product_type",
    "helpful",
    "rating",
    "title",
    "date",
    "reviewer",
    "reviewer_location",
    "review_text",
)
# Lines that are structure wherever they appear, even where a value line is expected.
_STRUCTURE = {
    "<review>",
    "</review>",
    *(f"<{name}>" for name in FIELDS),
    *(f"</{name}>" for name in FIELDS),
}


@dataclass
class RawReview:
    """One review as it stands in the file, values still entity-encoded.

    Attributes
    ----------
    line : int
        1-based line of the review's ``<review>`` tag.
    values : dict of str to str
        Raw value of each field: the lines between its tags, joined by newlines.
    value_lines : dict of str to int
        1-based line of each field's opening tag (for error messages).
    """

    line: int
    values: dict[str, str] = field(default_factory=dict)
    value_lines: dict[str, int] = field(default_factory=dict)


def _snippet(text: str, width: int = 40) -> str:
    text = text.strip()
    return repr(text if len(text) <= width else text[:width] + "...")


def _decode(raw: bytes, where: str, lineno: int) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"binary data (a NUL byte at column {nul + 1}); "
            "expected a UTF-8 text file of <review> elements",
            where=where,
            line=lineno,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
            "cannot be decoded; review files must be UTF-8 (re-encode it, "
            "e.g. with iconv -f latin1 -t utf-8)",
            where=where,
            line=lineno,
        ) from exc
    if lineno == 1:
        text = text.removeprefix("\ufeff")
    # Markup declarations are refused outright, so an entity definition (a "billion
    # laughs" bomb included) can never reach a parser that might expand it.
    if "<!" in text:
        raise DataError(
            f"markup declaration {_snippet(text[text.index('<!') :])} is not "
            "allowed: a review file is a bare sequence of <review> elements "
            "(no DOCTYPE, ENTITY or comments)",
            where=where,
            line=lineno,
        )
    return text.rstrip("\r\n")


def _cut(raw: bytes) -> str:
    # Only the last line of a file can lack its newline: a cut-off file, most likely.
    return "" if raw.endswith(b"\n") else " (the file ends in this line: truncated?)"


def _unexpected(review: RawReview, found: str, raw: bytes, where: str, lineno: int) -> DataError:
    """The error for a line that is not the next tag of ``review``."""
    done = len(review.values)
    if done < len(FIELDS):
        want = f"<{FIELDS[done]}> (field {done + 1} of {len(FIELDS)})"
    else:
        want = f"</review> after the {len(FIELDS)} fields"
    return DataError(
        f"expected {want} of the review starting at line {review.line}, found {found}{_cut(raw)}",
        where=where,
        line=lineno,
    )


def scan_reviews(
    stream: BinaryIO,
    where: str | os.PathLike,
    digest: Any = None,
    first_line: int = 1,
    end_line: int | None = None,
) -> Iterator[RawReview]:
    """Yield the reviews of an open binary ``.review`` file, checking its layout.

    Parameters
    ----------
    stream : binary file object
        Read line by line; only the current review is held in memory.
    where : str or path-like
        Name of the file, used in error messages.
    digest : hashlib hash object, optional
        Updated with every byte read, so the caller gets the checksum of exactly the
        bytes that were parsed without reading the file twice.
    first_line, end_line : int, optional
        A segment of the file (a shard, :mod:`logreg.data.reviews.shards`): ``stream``
        is positioned at the start of line ``first_line``, a ``<review>`` line, and the
        scan stops before line ``end_line`` (also a ``<review>`` line; None: the end of
        the file). A review left open there fails on that line exactly as in a scan of
        the whole file.

    Raises
    ------
    DataError
        Naming the file and line, for: bytes that are not UTF-8, NUL bytes, markup
        declarations, content outside ``<review>`` elements, fields missing or out of
        order, a tag left open (a truncated file included) and an empty file.
    """
    where = os.fspath(where)
    review: RawReview | None = None
    current: str | None = None  # the field whose value lines are being collected
    value: list[str] = []
    n_reviews = 0
    lineno = first_line - 1
    for lineno, raw in enumerate(stream, start=first_line):
        if lineno == end_line and review is None:
            return
        if digest is not None:
            digest.update(raw)
        text = _decode(raw, where, lineno)
        tag = text.strip()
        if current is not None:
            if tag == f"</{current}>":
                review.values[current] = "\n".join(value)
                current, value = None, []
            elif tag in _STRUCTURE:
                raise DataError(
                    f"expected </{current}> to close the <{current}> of line "
                    f"{review.value_lines[current]} before {tag}",
                    where=where,
                    line=lineno,
                )
            else:
                value.append(text)
        elif review is None:
            if tag == "<review>":
                review = RawReview(line=lineno)
            elif tag:
                raise DataError(
                    f"expected <review>, found {_snippet(text)}{_cut(raw)}",
                    where=where,
                    line=lineno,
                )
        elif tag == "</review>" and len(review.values) == len(FIELDS):
            n_reviews += 1
            yield review
            review = None
        elif len(review.values) < len(FIELDS) and tag == f"<{FIELDS[len(review.values)]}>":
            current = FIELDS[len(review.values)]
            review.value_lines[current] = lineno
        elif tag:
            found = tag if tag in _STRUCTURE else _snippet(text)
            raise _unexpected(review, found, raw, where, lineno)
    if review is not None:
        open_tag = f"</{current}> and </review>" if current else "</review>"
        raise DataError(
            f"file ends inside the review starting at line {review.line} "
            f"(truncated?): expected {open_tag}",
            where=where,
            line=lineno,
        )
    if n_reviews == 0 and first_line == 1 and end_line is None:
        raise DataError(
            "empty file: expected a sequence of <review> elements",
            where=where,
            line=None if lineno == 0 else lineno,
        )
