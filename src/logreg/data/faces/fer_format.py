"""What a FER2013 record is: classes, image size, CSV columns, Usage values.

Also the exact, per-row parser of the Kaggle CSV format. It is the reference that
decides whether a row is valid and what is wrong with it; the vectorized reader in
:mod:`logreg.data.faces.csv_reader` only accepts rows that this parser would accept with
the same values, and hands every other row to it for the verdict and the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from logreg.errors import DataError

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
IMAGE_SHAPE = (48, 48)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
HEADER = ("emotion", "pixels", "Usage")
USAGES = ("Training", "PublicTest", "PrivateTest")
USAGE_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}

_USAGE_CODES = {name.encode(): code for code, name in enumerate(USAGES)}
_MAX_SHOWN = 40
# A file of millions of bad rows must not hold millions of messages in memory.
MAX_SKIP_EXAMPLES = 100


class RowError(ValueError):
    """What is wrong with one row; the reader adds the file name and line number."""


@dataclass
class FerRows:
    """Validated FER2013 records in file order.

    Attributes
    ----------
    pixels : ndarray of uint8, shape (n_rows, 2304)
        Row-major 48x48 grey levels.
    labels : ndarray of int64, shape (n_rows,)
        Emotion index into :data:`CLASS_NAMES`.
    usage : ndarray of int8, shape (n_rows,)
        Index into :data:`USAGES`.
    lines : ndarray of int64, shape (n_rows,)
        1-based line number of each row in the file (the header is line 1).
    skipped_lines : list of int
        Line numbers of the invalid rows that were skipped (``skip_bad_rows``).
    skipped_examples : list of (int, str)
        ``(line, message)`` of the first :data:`MAX_SKIP_EXAMPLES` skipped rows.
    """

    pixels: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    lines: np.ndarray
    skipped_lines: list[int] = field(default_factory=list)
    skipped_examples: list[tuple[int, str]] = field(default_factory=list)


def shorten(text: bytes | str, limit: int = _MAX_SHOWN) -> str:
    """``text`` for an error message: decoded, quoted, cut to ``limit`` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def _unquote(value: bytes) -> bytes:
    value = value.strip()
    if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
        value = value[1:-1].strip()
    return value


def parse_pixels_field(field_bytes: bytes) -> np.ndarray:
    """Parse a ``pixels`` field: exactly 2,304 integers in 0..255 separated by spaces.

    Raises
    ------
    RowError
        Naming the first bad value (its 1-based position) or the wrong count.
    """
    tokens = field_bytes.split()
    if not all(token.isdigit() for token in tokens):
        # bytes.isdigit is ASCII-only, so int() below never sees '+', '_' or '½'.
        position, token = next((i, t) for i, t in enumerate(tokens, 1) if not t.isdigit())
        if token[:1] == b"-" and token[1:].isdigit():
            raise RowError(
                f"pixels: value {position} is {token.decode()}, expected an integer in 0..255"
            )
        raise RowError(f"pixels: value {position} is {shorten(token)}, not an integer in 0..255")
    values = np.array([int(token) for token in tokens], dtype=np.int64)
    too_big = np.flatnonzero(values > 255)
    if too_big.size:
        position = int(too_big[0])
        raise RowError(
            f"pixels: value {position + 1} is {values[position]}, expected an integer in 0..255"
        )
    if values.size != N_PIXELS:
        raise RowError(f"pixels: expected {N_PIXELS} values (48x48), got {values.size}")
    return values.astype(np.uint8)


def parse_pixel_string(text: str | bytes) -> np.ndarray:
    """Parse one FER2013 ``pixels`` string into a validated image vector.

    Parameters
    ----------
    text : str or bytes
        2,304 space-separated integers in 0..255 (row-major 48x48), as in the CSV.

    Returns
    -------
    ndarray of uint8, shape (2304,)

    Raises
    ------
    DataError
        If the string is not exactly 2,304 integers in 0..255 (same rules as CSV rows).
    """
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise DataError(
                "pixels: expected ASCII digits and spaces, got non-ASCII characters"
            ) from None
    try:
        return parse_pixels_field(text)
    except RowError as exc:
        raise DataError(str(exc)) from None


def check_pixel_array(values) -> np.ndarray:
    """Validate one image given as numbers (a 48x48 array or 2,304 values).

    Returns
    -------
    ndarray of float32, shape (2304,)

    Raises
    ------
    DataError
        If the values are not 2,304 finite grey levels in 0..255.
    """
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(
            f"pixels: expected {N_PIXELS} numbers (48x48), got {shorten(repr(values))}"
        ) from None
    if array.size != N_PIXELS:
        raise DataError(f"pixels: expected {N_PIXELS} values (48x48), got {array.size}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise DataError(
            "pixels: expected grey levels in 0..255, got values outside it (or NaN/inf)"
        )
    return array.astype(np.float32)


def parse_row(line: bytes) -> tuple[int, np.ndarray, int]:
    """Parse one data line ``emotion,pixels,Usage`` (line ending already removed).

    Fields may be surrounded by spaces or double quotes.

    Returns
    -------
    (label, pixels, usage_code)

    Raises
    ------
    RowError
        Saying which field is wrong and what was expected.
    """
    fields = line.split(b",")
    if len(fields) != len(HEADER):
        raise RowError(
            f"expected {len(HEADER)} comma-separated fields ({','.join(HEADER)}), got {len(fields)}"
        )
    emotion, pixels, usage = (_unquote(f) for f in fields)
    if not (emotion.isdigit() and int(emotion) < len(CLASS_NAMES)):
        raise RowError(
            f"emotion: expected an integer label in 0..{len(CLASS_NAMES) - 1} "
            f"({', '.join(CLASS_NAMES)}), got {shorten(emotion)}"
        )
    usage_code = _USAGE_CODES.get(usage)
    if usage_code is None:
        raise RowError(f"Usage: expected one of {', '.join(USAGES)}, got {shorten(usage)}")
    return int(emotion), parse_pixels_field(pixels), usage_code


def check_header(line: bytes) -> None:
    """Check the header line: exactly the columns ``emotion,pixels,Usage`` in that order.

    Column names are compared case-insensitively, ignoring spaces and quotes.

    Raises
    ------
    RowError
        Naming the missing or extra columns and the expected header.
    """
    bad = line.find(b"\x00")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start if bad < 0 else min(bad, exc.start)
    if bad >= 0:
        # A binary file: quoting its first "line" back would only print garbage.
        raise RowError(
            f"header: binary data, not CSV text (byte 0x{line[bad]:02x} at "
            f"column {bad + 1}); expected the columns {','.join(HEADER)}"
        )
    got = [_unquote(f).decode("utf-8") for f in line.split(b",")]
    expected = [name.lower() for name in HEADER]
    if [name.lower() for name in got] == expected:
        return
    missing = [name for name in HEADER if name.lower() not in {g.lower() for g in got}]
    extra = [name for name in got if name.lower() not in expected]
    details = []
    if missing:
        details.append(f"missing {', '.join(missing)}")
    if extra:
        details.append(f"unexpected {', '.join(shorten(e) for e in extra[:5])}")
    if not details:
        details.append("columns in the wrong order")
    raise RowError(
        f"header: expected the columns {','.join(HEADER)}, got "
        f"{shorten(line, 80)} ({'; '.join(details)})"
    )
