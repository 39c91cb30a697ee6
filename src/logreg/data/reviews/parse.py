"""Stage 1: the original ``.review`` files of a domain -> one Parquet table.

The layout is checked by :func:`logreg.data.reviews.records.scan_reviews`; the values are
decoded as an HTML parser reads character data (:func:`decode_values`, checked against
BeautifulSoup with lxml's HTML parser, :func:`decode_values_reference`), which knows every
HTML entity and leaves a raw ``&`` alone. Each value is decoded exactly once: the
double-escaped ``&amp;quot;`` of the original becomes ``&quot;``, as its author typed it,
not ``"``. Markup inside a value (a raw ``<``) is kept as text and cannot change the
structure.

The table has one row per review: the 11 fields of
:data:`~logreg.data.reviews.records.FIELDS` (stripped of surrounding whitespace, ``rating`` as
a float), ``label`` (1 for ``positive.review``, 0 for ``negative.review``),
``source_file`` and ``line`` (where the review starts). The sha256 of every source file
is stored in the Parquet schema metadata under ``logreg.source_files``.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from logreg.data.reviews.records import FIELDS, RawReview, scan_reviews
from logreg.data.reviews.unique import UniqueIds
from logreg.errors import DataError
from logreg.fileio import atomic_path

log = logging.getLogger(__name__)

LABELS = {"negative": 0, "positive": 1}
CLASS_NAMES = ["negative", "positive"]
COLUMNS = [*FIELDS, "label", "source_file", "line"]
ARROW_SCHEMA = pa.schema(
    [(name, pa.float64() if name == "rating" else pa.string()) for name in FIELDS]
    + [("label", pa.int64()), ("source_file", pa.string()), ("line", pa.int64())]
)
#: Reviews per Parquet row group, and per check of the ids: what the parse holds in memory.
BATCH_SIZE = 16384
_SOURCES_KEY = b"logreg.source_files"
SHARD_ROWS_KEY = b"logreg.shard_rows"


@dataclass(frozen=True)
class Segment:
    """Part of a ``.review`` file: from byte ``start``, the start of line ``first_line``,
    to the line ``end_line`` (excluded; None: the end of the file). Both ends are
    ``<review>`` lines or the ends of the file (see :mod:`logreg.data.reviews.shards`)."""

    start: int = 0
    first_line: int = 1
    end_line: int | None = None


def label_from_path(path: str | os.PathLike) -> int:
    """Label of a review file from its name: 1 for ``positive.review``, 0 for ``negative``."""
    name = Path(path).name
    for polarity, label in LABELS.items():
        if name == f"{polarity}.review":
            return label
    raise DataError(
        "cannot tell the label from the file name: expected positive.review or negative.review",
        where=path,
    )


def decode_values_reference(raw: RawReview) -> dict[str, str]:
    """Decode a review's values with BeautifulSoup and lxml's HTML parser: the reference.

    Slow (~0.5 ms per review), but it is the HTML parser's own reading of the values;
    :func:`decode_values` must give exactly its result (a test compares the two on every
    real review) and hands it the values it cannot decode safely.
    """
    from bs4 import BeautifulSoup  # only on the rare values decode_values hands over

    markup = "".join(f"<{name}>{raw.values[name].replace('<', '&lt;')}</{name}>" for name in FIELDS)
    soup = BeautifulSoup(markup, "lxml")
    return {name: soup.find(name).get_text().strip() for name in FIELDS}


# A numeric character reference, with or without its ';' (as an HTML parser reads it).
_NUMERIC_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+))")


def _safe_reference(match: re.Match) -> bool:
    # html.unescape drops what HTML5 calls invalid code points (most C0/C1 controls,
    # noncharacters) where libxml2 keeps them, and libxml2 turns &#13; into a space: such
    # references (absent from the real data) go to the reference decoder.
    code = int(match[1], 16) if match[1] else int(match[2])
    if code > 0x10FFFF:
        return True  # U+FFFD in both
    return not (
        code < 0x20 or 0x7F <= code <= 0x9F or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    )


def decode_values(raw: RawReview) -> dict[str, str]:
    """Decode a review's values: HTML entities (each decoded once), newlines, stripped.

    The HTML5 reading of character data, which the bundled libxml2 (2.14) follows:
    ``html.unescape`` decodes named references (with or without ``;``, as HTML5 allows
    for the legacy ones) and numeric ones; a carriage return is a newline. ~25x faster
    than :func:`decode_values_reference`, which decodes any review holding a numeric
    reference to a control character or a noncharacter (where the two differ).
    """
    values = {}
    for name in FIELDS:
        value = raw.values[name]
        if "&" in value:
            if not all(map(_safe_reference, _NUMERIC_REFERENCE.finditer(value))):
                return decode_values_reference(raw)
            value = html.unescape(value)
        if "\r" in value:  # HTML5 newline normalization, as libxml2 does it
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        values[name] = value.strip()
    return values


def _check_review(values: dict[str, str], raw: RawReview, where: str) -> float:
    """Check the values a model relies on; return the rating as a float."""
    for name in ("unique_id", "review_text", "rating"):
        if not values[name]:
            raise DataError(
                f"<{name}> of the review starting at line {raw.line} is empty; "
                "every review needs a unique_id, a rating and a text",
                where=where,
                line=raw.value_lines[name],
            )
    try:
        rating = float(values["rating"])
    except ValueError:
        rating = math.nan
    if not 1.0 <= rating <= 5.0:
        raise DataError(
            f"rating {values['rating']!r} of the review starting at line "
            f"{raw.line} is not a number from 1 to 5",
            where=where,
            line=raw.value_lines["rating"],
        )
    return rating


def check_review_path(path: str | os.PathLike) -> int:
    """Check that ``path`` is a review file named by its label; return the label."""
    label = label_from_path(path)
    if not Path(path).is_file():
        folder = Path(path).parent
        hint = "" if folder.is_dir() else f" (the folder {folder} does not exist either)"
        raise DataError(
            f"review file not found{hint}; expected <reviews_dir>/<domain>/"
            "positive.review and negative.review",
            where=path,
        )
    return label


def parse_review_file(
    path: str | os.PathLike, digest=None, segment: Segment | None = None
) -> Iterator[dict[str, object]]:
    """Yield the reviews of one ``.review`` file as dicts of decoded values.

    Parameters
    ----------
    path : str or path-like
        ``positive.review`` or ``negative.review``; the label comes from the name.
    digest : hashlib hash object, optional
        Updated with the file's bytes as they are read.
    segment : Segment, optional
        Only the reviews of this part of the file (a shard); default the whole file.

    Yields
    ------
    dict
        The keys of :data:`COLUMNS`; ``rating`` is a float, ``line`` the 1-based line of
        the review's ``<review>`` tag.

    Raises
    ------
    DataError
        Naming the file and line of the first problem (see :func:`scan_reviews`), or a
        review without unique_id, text or a rating from 1 to 5.
    """
    label = check_review_path(path)
    where = os.fspath(path)
    segment = segment or Segment()
    with open(path, "rb") as stream:
        stream.seek(segment.start)
        for raw in scan_reviews(stream, where, digest, segment.first_line, segment.end_line):
            values = decode_values(raw)
            rating = _check_review(values, raw, where)
            yield {
                **values,
                "rating": rating,
                "label": label,
                "source_file": where,
                "line": raw.line,
            }


def iter_reviews(
    parts: Sequence[tuple[str | os.PathLike, Segment | None]],
    digests: dict[str, str] | None = None,
) -> Iterator[dict[str, object]]:
    """The reviews of several files (or segments of them), in order.

    ``digests``, if given, receives the sha256 of each file read whole (the segment None).
    """
    for path, segment in parts:
        digest = hashlib.sha256() if digests is not None and segment is None else None
        n_reviews = 0
        reviews = parse_review_file(path, digest, segment)
        for row in tqdm(
            reviews,
            desc=Path(path).name,
            unit=" reviews",
            leave=False,
            disable=not sys.stderr.isatty(),
        ):
            n_reviews += 1
            yield row
        if digest is not None:
            digests[os.fspath(path)] = digest.hexdigest()
        log.info("%s: %d reviews", os.fspath(path), n_reviews)


def checked_batches(
    rows: Iterable[dict[str, object]],
    batch_size: int | None = None,
    seen: UniqueIds | None = None,
) -> Iterator[list[dict[str, object]]]:
    """``rows`` in lists of ``batch_size``, each checked for ids used before.

    Ids are checked a batch at a time (:class:`~logreg.data.reviews.unique.UniqueIds`); a
    malformed review after a duplicate id is reported only if no duplicate precedes it,
    so the first problem in the files is the one reported, as in a check row by row.
    """
    seen = UniqueIds() if seen is None else seen
    batch_size = batch_size or BATCH_SIZE
    batch: list[dict[str, object]] = []

    def check(batch):
        seen.add(
            [r["unique_id"] for r in batch],
            [r["source_file"] for r in batch],
            [r["line"] for r in batch],
        )

    try:
        for row in rows:
            batch.append(row)
            if len(batch) == batch_size:
                check(batch)
                yield batch
                batch = []
    except DataError:
        check(batch)
        raise
    check(batch)
    if batch:
        yield batch


def _check_labels(labels: set[int], paths: Sequence[str | os.PathLike]) -> None:
    missing = [name for name, label in LABELS.items() if label not in labels]
    if missing:
        names = [os.fspath(p) for p in paths]
        raise DataError(
            f"no {' or '.join(missing)} reviews among {names}; a domain needs "
            "both positive.review and negative.review"
        )


def parse_reviews(paths: Sequence[str | os.PathLike]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Parse the review files of one domain into a table (in memory).

    Parameters
    ----------
    paths : sequence of path-like
        The domain's ``positive.review`` and ``negative.review`` (both labels needed).

    Returns
    -------
    table : pandas.DataFrame
        One row per review, columns :data:`COLUMNS`, in file order.
    sources : dict of str to str
        sha256 of each file, keyed by the path as given.

    Raises
    ------
    DataError
        For a malformed file, a missing label, or a ``unique_id`` used twice.
    """
    sources: dict[str, str] = {}
    rows = [
        row
        for batch in checked_batches(iter_reviews([(p, None) for p in paths], sources))
        for row in batch
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    _check_labels(set(table["label"]), paths)
    return table.astype({"rating": "float64", "label": "int64", "line": "int64"}), sources


def write_reviews(
    batches: Iterable[list[dict[str, object]] | pa.RecordBatch],
    path: str | os.PathLike,
    sources: dict[str, str],
    require_both_labels: Sequence[str | os.PathLike] | None = None,
    shard_rows: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Write batches of review rows (dicts, or Arrow batches of :data:`ARROW_SCHEMA`) to
    Parquet as they come, one row group per batch.

    Memory holds one batch. The file appears at ``path`` only when complete (an error
    leaves no partial file); ``sources`` is read at the end (it may be filled while the
    batches are read) and stored in the file's metadata.

    Returns
    -------
    (n_reviews, n_positive)
    """
    n_reviews = n_positive = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, ARROW_SCHEMA) as writer:
        for batch in batches:
            if isinstance(batch, pa.RecordBatch):
                writer.write_table(pa.Table.from_batches([batch]))
                n_positive += int(pc.sum(batch["label"]).as_py() or 0)
            else:
                writer.write_table(pa.Table.from_pylist(batch, schema=ARROW_SCHEMA))
                n_positive += sum(row["label"] for row in batch)
            n_reviews += len(batch)
        if require_both_labels is not None:
            labels = {label for label, n in ((1, n_positive), (0, n_reviews - n_positive)) if n}
            _check_labels(labels, require_both_labels)
        writer.add_key_value_metadata(
            {
                _SOURCES_KEY: json.dumps(sources, sort_keys=True),
                SHARD_ROWS_KEY: json.dumps(list(shard_rows or [n_reviews])),
            }
        )
    return n_reviews, n_positive


def write_reviews_table(
    table: pd.DataFrame, sources: dict[str, str], path: str | os.PathLike
) -> None:
    """Write ``table`` to Parquet atomically, with ``sources`` in the schema metadata."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {
        **(arrow.schema.metadata or {}),
        _SOURCES_KEY: json.dumps(sources, sort_keys=True).encode("utf-8"),
    }
    with atomic_path(path) as tmp:
        pq.write_table(arrow.replace_schema_metadata(metadata), tmp)


def reviews_metadata(path: str | os.PathLike) -> dict[bytes, bytes]:
    """The key-value metadata of a reviews table: its schema's (written whole by
    :func:`write_reviews_table`) and its file's (streamed by :func:`write_reviews`)."""
    parquet = pq.ParquetFile(path)
    return {**(parquet.metadata.metadata or {}), **(parquet.schema_arrow.metadata or {})}


def read_reviews_table(
    path: str | os.PathLike, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a table written by :func:`write_reviews_table` or :func:`write_reviews`
    (only ``columns``, default all); return it and its sources."""
    arrow, sources = read_reviews_arrow(path, columns)
    return arrow.to_pandas(), sources


def read_reviews_arrow(
    path: str | os.PathLike, columns: Sequence[str] | None = None
) -> tuple[pa.Table, dict[str, str]]:
    """:func:`read_reviews_table` as an Arrow table: its strings are not Python objects
    (10^7 ids take ~300 MB instead of ~1 GB)."""
    if not Path(path).is_file():
        raise DataError("no such file; run the parse stage first", where=path)
    try:
        try:
            arrow = pq.read_table(path, columns=columns)
        except pa.ArrowInvalid as exc:
            if columns is None or "FieldRef" not in str(exc):
                raise
            arrow = pq.read_table(path)  # a column asked for is absent: reported below
        metadata = reviews_metadata(path)
        missing = [c for c in columns or COLUMNS if c not in arrow.column_names]
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read the reviews table: {exc}", where=path) from exc
    if _SOURCES_KEY not in metadata or missing:
        raise DataError(
            "not a reviews table written by `python -m logreg.data.reviews parse` "
            f"(missing columns {missing} or source checksums)",
            where=path,
        )
    return arrow, json.loads(metadata[_SOURCES_KEY])
