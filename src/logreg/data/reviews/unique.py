"""Duplicate ``unique_id`` detection in memory that does not hold the ids themselves.

A domain of 10^7 reviews has 10^7 ids of ~35 characters: a Python set of them takes over
a gigabyte. :class:`UniqueIds` keeps, per review, a 64-bit BLAKE2b key of its id and where
it was read (file number and line): 24 bytes. Keys are kept in sorted runs merged like a
binary counter (a run is merged into the one before it when it has grown as large), so
checking a batch costs a ``searchsorted`` per run, and there are at most log2(n / batch)
runs. Two ids within one batch are compared as strings; an id that matches the key of an
earlier batch is reported as a duplicate (two different ids share a key with probability
about n^2 / 2^65: 3e-6 for 10^7 reviews).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from logreg.errors import DataError


def id_keys(ids: Sequence[str]) -> np.ndarray:
    """64-bit keys of ``ids`` (BLAKE2b, the same on every machine and run)."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8")


class UniqueIds:
    """The ids seen so far; :meth:`add` raises on the first id seen twice, in read order."""

    def __init__(self):
        self.files: list[str] = []
        self._file_number: dict[str, int] = {}
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # keys, file, line

    def __len__(self) -> int:
        return sum(len(keys) for keys, _, _ in self._runs)

    def add(self, ids: Sequence[str], files: Sequence[str], lines: Sequence[int]) -> None:
        """Add a batch of reviews (their ids, source files and lines), in read order.

        Raises
        ------
        DataError
            At the first review of the batch whose id was used before (in this batch or
            an earlier one), naming both places.
        """
        if len(ids) == 0:
            return
        keys = id_keys(ids)
        lines = np.asarray(lines, dtype=np.int64)
        file_numbers = np.array(
            [self._file_number.setdefault(f, len(self._file_number)) for f in files],
            dtype=np.int32,
        )
        self.files = list(self._file_number)
        first = len(ids)  # position of the first duplicate in the batch
        earlier: tuple[int, int] | None = None  # its first use: (file number, line)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        repeat = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        for i in repeat:
            # Equal keys sit together in `order`, each group in batch order.
            j, k = order[i], order[i + 1]
            while i > 0 and sorted_keys[i - 1] == sorted_keys[i]:
                i -= 1
            j = order[i]
            if ids[k] == ids[j] and k < first:
                first, earlier = int(k), (int(file_numbers[j]), int(lines[j]))
        for run_keys, run_files, run_lines in self._runs:
            at = np.searchsorted(run_keys, keys).clip(max=len(run_keys) - 1)
            hits = np.flatnonzero(run_keys[at] == keys)
            if len(hits) and hits[0] < first:
                first = int(hits[0])
                earlier = (int(run_files[at[first]]), int(run_lines[at[first]]))
        if earlier is not None:
            raise DataError(
                f"unique_id {ids[first]!r} was already used by the review at "
                f"{self.files[earlier[0]]}:{earlier[1]}; unique_ids must be unique within "
                "a domain",
                where=files[first],
                line=int(lines[first]),
            )
        self._runs.append((sorted_keys, file_numbers[order], lines[order]))
        while len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            merged = [np.concatenate(parts) for parts in zip(*self._runs[-2:])]
            order = np.argsort(merged[0], kind="stable")
            self._runs[-2:] = [tuple(part[order] for part in merged)]
