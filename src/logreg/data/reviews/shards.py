"""A large domain in shards: byte ranges of its ``.review`` files, parsed in parallel.

The files of a domain (``positive.review`` then ``negative.review``) are one sequence of
``T`` bytes; shard ``i`` of ``K`` takes the reviews whose ``<review>`` line starts in
bytes ``[i T / K, (i + 1) T / K)``. A cut inside a file moves forward to the next line
that is a ``<review>`` tag (:func:`review_cut`), and both shards beside it move it the
same way, so the shards partition the reviews: in file order, each exactly once. ``K``
comes from the file sizes (:func:`shard_count`), so the workflow knows every job before
anything runs. Each shard's reviews keep the file and line where they start, and a
malformed review fails with the same message as in a parse of the whole file (the scan of
a segment, :func:`~logreg.data.reviews.records.scan_reviews`, reads into the next
segment's first line when a review is left open).

The shard tables are merged in shard order into the domain's ``reviews.parquet``, the
table a single parse writes, row for row (:func:`merge_reviews`): only there are ids
checked across shards and the checksums of the whole files taken.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from logreg.data.reviews.parse import (
    ARROW_SCHEMA,
    BATCH_SIZE,
    Segment,
    check_review_path,
    checked_batches,
    iter_reviews,
    reviews_metadata,
    write_reviews,
)
from logreg.data.reviews.unique import UniqueIds
from logreg.errors import DataError
from logreg.fileio import sha256_file

log = logging.getLogger(__name__)

_BLOCK = 1 << 20


def shard_count(paths: Sequence[str | os.PathLike], shard_mb: float | None) -> int:
    """Number of shards of a domain: its bytes over ``shard_mb`` MiB, at least 1 (None or
    missing files: 1, e.g. demo files not generated yet)."""
    if shard_mb is None or not all(Path(p).is_file() for p in paths):
        return 1
    total = sum(Path(p).stat().st_size for p in paths)
    return max(1, math.ceil(total / (shard_mb * (1 << 20))))


def review_cut(path: str | os.PathLike, offset: int) -> tuple[int, int | None]:
    """The first ``<review>`` line starting at or after byte ``offset``: ``(byte, line)``.

    ``(size, None)`` when there is none (the cut is the end of the file); offset 0 is the
    start of the file, ``(0, 1)``.
    """
    size = Path(path).stat().st_size
    if offset <= 0:
        return 0, 1
    with open(path, "rb") as stream:
        stream.seek(offset - 1)
        stream.readline()  # the rest of the line that holds byte offset - 1
        while line := stream.readline():
            if line.strip() == b"<review>":
                cut = stream.tell() - len(line)
                return cut, _line_number(stream, cut)
    return size, None


def _line_number(stream, offset: int) -> int:
    """1 + the newlines before byte ``offset``."""
    stream.seek(0)
    newlines, left = 0, offset
    while left > 0:
        block = stream.read(min(_BLOCK, left))
        newlines += block.count(b"\n")
        left -= len(block)
    return newlines + 1


def shard_segments(
    paths: Sequence[str | os.PathLike], shard: int, n_shards: int
) -> list[tuple[str, Segment]]:
    """The parts of ``paths`` that shard ``shard`` (0-based) of ``n_shards`` parses."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not one of 0..{n_shards - 1}")
    sizes = [Path(p).stat().st_size for p in paths]
    total = sum(sizes)
    low, high = shard * total // n_shards, (shard + 1) * total // n_shards
    parts, base = [], 0
    for path, size in zip(paths, sizes):
        begin, end = max(low - base, 0), min(high - base, size)
        base += size
        if size == 0 and shard == 0:
            parts.append((os.fspath(path), Segment()))  # fails as an empty file
        if begin >= end:
            continue
        start, first_line = review_cut(path, begin)
        stop, end_line = review_cut(path, end) if end < size else (size, None)
        if start < stop:
            parts.append((os.fspath(path), Segment(start, first_line, end_line)))
    return parts


def parse_shard(
    paths: Sequence[str | os.PathLike], shard: int, n_shards: int, out: str | os.PathLike
) -> int:
    """Parse shard ``shard`` of ``n_shards`` of a domain's files into ``out`` (Parquet).

    Returns the number of reviews. Ids are checked within the shard here, across shards
    by :func:`merge_reviews`.
    """
    for path in paths:
        check_review_path(path)  # the messages of a whole parse, before a size is asked
    segments = shard_segments(paths, shard, n_shards)
    rows = iter_reviews(segments)
    n_reviews, _ = write_reviews(checked_batches(rows), out, sources={})
    log.info("shard %d of %d: %d reviews -> %s", shard, n_shards, n_reviews, out)
    return n_reviews


def merge_reviews(
    paths: Sequence[str | os.PathLike],
    shard_tables: Sequence[str | os.PathLike],
    out: str | os.PathLike,
) -> tuple[int, int]:
    """Concatenate the shard tables of a domain, in order, into its ``reviews.parquet``.

    Checks the ids across shards and that both labels occur; records the sha256 of each
    file. Streams one row group at a time. Returns ``(n_reviews, n_positive)``. Without
    ``shard_tables`` (a domain of one shard) the files are parsed here: one job, not two.
    """
    if not shard_tables:
        sources: dict[str, str] = {}
        rows = iter_reviews([(path, None) for path in paths], sources)
        return write_reviews(checked_batches(rows), out, sources, require_both_labels=paths)
    seen = UniqueIds()

    def batches():
        for table in shard_tables:
            try:
                parquet = pq.ParquetFile(table)
                if not parquet.schema_arrow.equals(ARROW_SCHEMA, check_metadata=False):
                    raise DataError("not a shard table of `parse-shard`", where=table)
                for batch in parquet.iter_batches(batch_size=BATCH_SIZE):
                    # Only the ids and places become Python objects: the texts stay Arrow.
                    seen.add(
                        batch["unique_id"].to_pylist(),
                        batch["source_file"].to_pylist(),
                        batch["line"].to_numpy(),
                    )
                    yield batch
            except (OSError, pa.ArrowInvalid) as exc:
                raise DataError(f"cannot read the shard table: {exc}", where=table) from exc

    sources = {os.fspath(p): sha256_file(p) for p in paths}
    shard_rows = [table_rows(table) for table in shard_tables]
    return write_reviews(batches(), out, sources, require_both_labels=paths, shard_rows=shard_rows)


def table_rows(path: str | os.PathLike) -> int:
    """Number of rows of a Parquet table, from its footer."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read the shard table: {exc}", where=path) from exc


__all__ = ["merge_reviews", "parse_shard", "reviews_metadata", "shard_count", "shard_segments"]
