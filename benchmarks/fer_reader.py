"""Benchmark: the project's FER2013 CSV reader against ``pyarrow.csv`` (issue 20).

Each reader turns ``fer2013.csv.gz`` (35,887 rows) into validated arrays: pixels uint8
(n, 2304), labels 0..6, Usage codes. Each run is a fresh Python process, so its peak
resident memory (``ru_maxrss``) is its own; timed from opening the file to the arrays
(imports excluded, reported apart).

Readers:

* ``custom``: :func:`logreg.data.faces.csv_reader.read_fer_csv` (background gzip
  inflate, vectorized byte parse, every row validated, errors as file:line: column).
* ``pyarrow``: ``pyarrow.csv.read_csv`` (multithreaded, inflates .gz itself), then
  ``pyarrow.compute.split_pattern`` on the pixel strings, ``list_value_length`` (2,304 per
  row), ``cast`` to uint8 (rejects non-digits and values > 255), labels cast and checked
  in 0..6, Usage checked against the three names.
* ``pyarrow_bytes``: the same ``read_csv``, then the project's vectorized byte parser
  (:func:`logreg.data.faces.pixel_parser.parse_pixel_fields`) straight on each chunk's
  string buffer and offsets: pyarrow's tokenizer, the custom pixel pass.

(A third variant, ``np.array(b" ".join(pixel strings).split(), dtype=int)``, took 41 s
and 6.0 GB: dropped.)

``--corrupt`` also writes a temporary copy of the file with one bad grey level ("2x6"
on line 20,001, pixel 1,000) and prints each reader's error message.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/fer_reader.py [--repeat 3] [--corrupt]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / "../shared/data/fer2013/fer2013.csv.gz"
READERS = ("custom", "pyarrow", "pyarrow_bytes")
USAGES = ("Training", "PublicTest", "PrivateTest")


def _custom(path: str):
    from logreg.data.faces.csv_reader import read_fer_csv

    rows, _ = read_fer_csv(path)
    return rows.pixels, rows.labels, rows.usage


def _arrow_table(path: str):
    import pyarrow as pa
    from pyarrow import csv

    return csv.read_csv(
        path,
        convert_options=csv.ConvertOptions(
            column_types={"emotion": pa.string(), "pixels": pa.string(), "Usage": pa.string()}
        ),
    )


def _arrow_labels_usage(table):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    labels = pc.cast(table["emotion"], pa.int8()).to_numpy()
    if ((labels < 0) | (labels > 6)).any():
        raise ValueError(
            f"emotion outside 0..6 in row {int(np.argmax((labels < 0) | (labels > 6)))}"
        )
    usage = pc.index_in(table["Usage"], value_set=pa.array(USAGES)).to_numpy(zero_copy_only=False)
    if np.isnan(usage.astype(float)).any():
        raise ValueError("unknown Usage")
    return labels, usage.astype(np.int8)


def _pyarrow(path: str):
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _arrow_table(path)
    lists = pc.split_pattern(table["pixels"], " ")
    lengths = pc.list_value_length(lists).to_numpy()
    if (lengths != 2304).any():
        row = int(np.argmax(lengths != 2304))
        raise ValueError(f"row {row}: {lengths[row]} values, expected 2304")
    values = pc.cast(pc.list_flatten(lists), pa.uint8())
    pixels = values.to_numpy().reshape(-1, 2304)
    labels, usage = _arrow_labels_usage(table)
    return pixels, labels, usage


def _pyarrow_bytes(path: str):
    import numpy as np

    from logreg.data.faces.pixel_parser import parse_pixel_fields

    table = _arrow_table(path)
    parts = []
    for chunk in table["pixels"].chunks:
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset :][: len(chunk) + 1]
        data = chunk.buffers()[2].to_pybytes()
        pixels, ok = parse_pixel_fields(data, offsets[:-1].tolist(), offsets[1:].tolist())
        if not ok.all():
            raise ValueError(f"a bad pixel field in row {int(np.argmin(ok))} of a chunk")
        parts.append(pixels)
    labels, usage = _arrow_labels_usage(table)
    return np.concatenate(parts), labels, usage


def _child(reader: str, path: str) -> None:
    """Run one reader in this process; print one JSON line."""
    import resource

    import numpy as np

    started = time.perf_counter()
    try:
        pixels, labels, usage = {
            "custom": _custom,
            "pyarrow": _pyarrow,
            "pyarrow_bytes": _pyarrow_bytes,
        }[reader](path)
        error = None
    except Exception as exc:  # the message is what is measured
        error = f"{type(exc).__name__}: {exc}"
        pixels = labels = usage = None
    seconds = time.perf_counter() - started
    out = {
        "reader": reader,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "error": error,
    }
    if pixels is not None:
        out.update(
            rows=int(pixels.shape[0]),
            checksum=int(np.asarray(pixels, np.uint64).sum()),
            labels=int(np.asarray(labels, np.int64).sum()),
            usage=np.bincount(np.asarray(usage, np.int64), minlength=3).tolist(),
        )
    print(json.dumps(out))


def _run(reader: str, path: str) -> dict:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--child", reader, "--input", path],
        capture_output=True,
        text=True,
        check=True,
    )
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["process_seconds"] = round(time.perf_counter() - started, 2)
    return row


def _corrupt_copy(path: str, folder: str, line: int = 20_001, pixel: int = 1_000) -> str:
    """A gzipped copy of ``path`` whose ``pixel``-th grey level on ``line`` reads "2x6"."""
    with gzip.open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    label, pixels, usage = lines[line - 1].split(b",")
    values = pixels.split(b" ")
    values[pixel - 1] = b"2x6"
    lines[line - 1] = b",".join([label, b" ".join(values), usage])
    out = os.path.join(folder, "fer2013_corrupt.csv.gz")
    with gzip.open(out, "wb", compresslevel=1) as fh:
        fh.write(b"\n".join(lines))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(REAL))
    parser.add_argument("--readers", nargs="+", choices=READERS, default=list(READERS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--child", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.input)
        return
    print(f"load: {os.getloadavg()}")
    for _ in range(args.repeat):  # interleaved: the machine's load hits every reader alike
        for reader in args.readers:
            print(json.dumps(_run(reader, args.input)))
    if args.corrupt:
        with tempfile.TemporaryDirectory() as folder:
            bad = _corrupt_copy(args.input, folder)
            for reader in args.readers:
                row = _run(reader, bad)
                print(json.dumps({"reader": reader, "corrupt_file_error": row["error"]}))


if __name__ == "__main__":
    main()
