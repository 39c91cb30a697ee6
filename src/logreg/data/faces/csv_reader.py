"""Fast, fully validating reader of the FER2013 CSV (``.csv`` or gzipped ``.csv.gz``).

The file is decompressed in a background thread (see :mod:`logreg.data.faces.line_blocks`)
while the main thread parses blocks of whole lines. In a block, a short Python loop
finds the three fields of each line, and the pixel fields of all its rows are parsed in
one vectorized pass over their ASCII bytes (:mod:`logreg.data.faces.pixel_parser`). That
pass only *accepts* rows that are plainly valid: single-space-separated 1-3 digit
values <= 255, 2,304 of them, a label ``0``..``6`` and a known Usage. Every other row
goes to the exact per-row parser (:func:`logreg.data.faces.fer_format.parse_row`), which
gives the verdict and the message, so the fast path can never accept a row the
reference would reject."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from logreg.data.faces.fer_format import (
    MAX_SKIP_EXAMPLES,
    USAGES,
    FerRows,
    RowError,
    check_header,
    parse_row,
)
from logreg.data.faces.line_blocks import in_background, is_gzip_file, line_blocks
from logreg.data.faces.pixel_parser import parse_pixel_fields
from logreg.errors import DataError

_LABELS = {**{str(k).encode(): k for k in range(7)}, **{f'"{k}"'.encode(): k for k in range(7)}}
_USAGE_CODES = {
    **{u.encode(): c for c, u in enumerate(USAGES)},
    **{f'"{u}"'.encode(): c for c, u in enumerate(USAGES)},
}


class _Collector:
    """Rows of all blocks, and the bookkeeping of bad rows."""

    def __init__(self, path: Path, skip_bad_rows: bool):
        self.path, self.skip_bad_rows = path, skip_bad_rows
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.skipped_lines: list[int] = []
        self.skipped_examples: list[tuple[int, str]] = []

    def bad_row(self, line: int, message: str) -> None:
        if not self.skip_bad_rows:
            raise DataError(message, where=self.path, line=line)
        self.skipped_lines.append(line)
        if len(self.skipped_examples) < MAX_SKIP_EXAMPLES:
            self.skipped_examples.append((line, message))

    def parse_block(self, block: bytes, line: int, start: int = 0) -> int:
        """Parse the lines of ``block`` from offset ``start``; the first is line ``line``.

        Returns the number of the line after the block.
        """
        find, rfind, n = block.find, block.rfind, len(block)
        spans, numbers = [], []  # every non-blank line: (start, end), line number
        fast, pixel_a, pixel_b, labels, usages = [], [], [], [], []
        pos = start
        while pos < n:
            newline = find(b"\n", pos)
            if newline < 0:
                newline = n
            end = newline - 1 if newline > pos and block[newline - 1] == 13 else newline
            if end > pos:  # blank lines are skipped, as pandas does
                c1, c2 = find(b",", pos, end), rfind(b",", pos, end)
                label = _LABELS.get(block[pos:c1]) if c1 > pos else None
                usage = _USAGE_CODES.get(block[c2 + 1 : end]) if c2 > c1 else None
                if label is not None and usage is not None:
                    a, b = c1 + 1, c2
                    if b - a >= 2 and block[a] == 34 and block[b - 1] == 34:
                        a, b = a + 1, b - 1
                    fast.append(len(spans))
                    pixel_a.append(a)
                    pixel_b.append(b)
                    labels.append(label)
                    usages.append(usage)
                spans.append((pos, end))
                numbers.append(line)
            line += 1
            pos = newline + 1
        pixels, ok = parse_pixel_fields(block, pixel_a, pixel_b)
        fast = np.array(fast, dtype=np.int64)
        keep = slice(None) if ok.all() else ok  # a slice keeps the common case copy-free
        part = [
            pixels[keep],
            np.array(labels, dtype=np.int64)[keep],
            np.array(usages, dtype=np.int8)[keep],
            np.array(numbers, dtype=np.int64)[fast[keep]],
        ]
        exact = np.ones(len(spans), dtype=bool)
        exact[fast[keep]] = False
        if exact.any():
            part = self._parse_exactly(block, spans, numbers, np.flatnonzero(exact), part)
        self.parts.append(tuple(part))
        return line

    def _parse_exactly(self, block: bytes, spans, numbers, indices, part) -> list:
        """Run the per-row parser on the rows the vectorized pass did not accept."""
        rows = []
        for i in indices.tolist():
            a, b = spans[i]
            try:
                label, pixels, usage = parse_row(block[a:b])
            except RowError as exc:
                self.bad_row(numbers[i], str(exc))
                continue
            rows.append((pixels, label, usage, numbers[i]))
        if not rows:
            return part
        extra = [np.stack([r[0] for r in rows])] + [
            np.array([r[k] for r in rows], dtype=part[k].dtype) for k in (1, 2, 3)
        ]
        part = [np.concatenate([p, e]) for p, e in zip(part, extra)]
        order = np.argsort(part[3], kind="stable")
        return [column[order] for column in part]

    def result(self) -> FerRows:
        pixels, labels, usage, lines = (np.concatenate(column) for column in zip(*self.parts))
        return FerRows(
            pixels=pixels,
            labels=labels,
            usage=usage,
            lines=lines,
            skipped_lines=self.skipped_lines,
            skipped_examples=self.skipped_examples,
        )


def read_fer_csv(path: str | os.PathLike, *, skip_bad_rows: bool = False) -> tuple[FerRows, str]:
    """Read and validate every row of a FER2013 CSV file, plain or gzipped.

    Parameters
    ----------
    path : path-like
        ``fer2013.csv`` or ``fer2013.csv.gz`` (detected from the content, not the name):
        a header ``emotion,pixels,Usage`` then one row per image. LF or CRLF line
        endings; blank lines are ignored.
    skip_bad_rows : bool
        If true, invalid rows are skipped and reported in the result instead of
        raising an error at the first one.

    Returns
    -------
    rows : FerRows
        The valid rows in file order, with the line numbers of skipped rows.
    sha256 : str
        Hex digest of the file's bytes as stored (compressed if gzipped).

    Raises
    ------
    DataError
        ``<file>:<line>: <what is wrong>`` for the first invalid row (unless
        ``skip_bad_rows``), a bad header, an empty file, a file without data rows
        (or without any valid one), or corrupt gzip data.
    """
    path = Path(path)
    try:
        gzipped = is_gzip_file(path)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror})", where=path) from None
    if not gzipped and path.name.lower().endswith(".gz"):
        raise DataError("the name ends in .gz but the content is not gzip data", where=path)
    hasher = hashlib.sha256()
    collector = _Collector(path, skip_bad_rows)
    line = 1
    header_seen = False
    for block in in_background(line_blocks(path, gzipped, hasher)):
        start = 0
        if not header_seen:
            block = block.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM (Excel exports)
            if not block.strip():
                continue
            end = block.find(b"\n")
            end = len(block) if end < 0 else end
            try:
                check_header(block[:end].rstrip(b"\r"))
            except RowError as exc:
                raise DataError(str(exc), where=path, line=1) from None
            header_seen, start, line = True, end + 1, 2
        line = collector.parse_block(block, line, start)
    if not header_seen:
        raise DataError(
            "empty file: expected a header line emotion,pixels,Usage and one row per image",
            where=path,
        )
    rows = collector.result()
    if len(rows.labels) == 0:
        if rows.skipped_lines:
            first, message = rows.skipped_examples[0]
            raise DataError(
                f"no valid data row: all {len(rows.skipped_lines)} rows are "
                f"invalid; the first, line {first}: {message}",
                where=path,
            )
        raise DataError("no data rows after the header line", where=path)
    return rows, hasher.hexdigest()
