"""A (gzipped) text file as blocks of whole lines, read ahead in a background thread.

zlib releases the GIL while it inflates, so on two cores the decompression of block
k+1 overlaps the parsing of block k. Memory stays bounded whatever the input: the
inflater's output is capped per call (a gzip bomb cannot fill the memory) and a
"line" longer than 64 MB is an error rather than a buffer.
"""

from __future__ import annotations

import os
import queue
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from logreg.errors import DataError

# Blocks of ~2 MB (~230 rows) keep the parser's temporaries in the CPU caches: measured
# fastest among 0.5-8 MB on this machine.
_BLOCK_BYTES = 2 << 20
_COMPRESSED_READ = 1 << 20
# A row is ~9 KB; a "line" this long means the file is not FER2013 (or is hostile),
# and must not be buffered whole.
_MAX_LINE_BYTES = 64 << 20
_END = object()


def is_gzip_file(path: str | os.PathLike) -> bool:
    """True if the file starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _raw_chunks(path: Path, gzipped: bool, hasher) -> Iterator[bytes]:
    """Yield the (decompressed) content of ``path``; feed the raw bytes to ``hasher``."""
    with open(path, "rb") as fh:
        if not gzipped:
            while chunk := fh.read(_BLOCK_BYTES):
                hasher.update(chunk)
                yield chunk
            return
        inflater, fed = zlib.decompressobj(wbits=31), False
        while comp := fh.read(_COMPRESSED_READ):
            hasher.update(comp)
            while comp:
                fed = True
                try:
                    # max_length bounds the output: a gzip bomb cannot fill the memory.
                    out = inflater.decompress(comp, _BLOCK_BYTES)
                except zlib.error as exc:
                    raise DataError(f"corrupt gzip data ({exc})", where=path) from None
                if out:
                    yield out
                if inflater.eof:  # a multi-member gzip file: start the next member
                    comp, fed = inflater.unused_data, False
                    inflater = zlib.decompressobj(wbits=31)
                else:
                    comp = inflater.unconsumed_tail
        if fed and not inflater.eof:
            raise DataError("truncated gzip file (unexpected end of data)", where=path)


def line_blocks(path: Path, gzipped: bool, hasher) -> Iterator[bytes]:
    """Yield the file's content in blocks of ~2 MB that end at a line end.

    Parameters
    ----------
    path : Path
    gzipped : bool
        Inflate the content (multi-member gzip files included).
    hasher : hashlib hash object
        Updated with the file's bytes as stored, so the file is read once.

    Raises
    ------
    DataError
        Corrupt or truncated gzip data, or a line longer than 64 MB.
    """
    pending: list[bytes] = []
    size = 0
    for chunk in _raw_chunks(path, gzipped, hasher):
        pending.append(chunk)
        size += len(chunk)
        if size < _BLOCK_BYTES:
            continue
        data = b"".join(pending)
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > _MAX_LINE_BYTES:
            raise DataError(
                f"a line longer than {_MAX_LINE_BYTES >> 20} MB: not a FER2013 "
                f"CSV (a row is about 9 KB)",
                where=path,
            )
        if cut:
            yield data[:cut]
            data = data[cut:]
        pending, size = [data], len(data)
    if size:
        yield b"".join(pending)


def in_background(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Run the ``blocks`` generator in a thread, a few blocks ahead of the consumer.

    An exception in the thread is re-raised in the consumer; when the consumer stops
    early (an error in a row), the thread is stopped and joined.
    """
    items: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for block in blocks:
                put(block)
                if stop.is_set():
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=produce, name="fer-csv-reader", daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
