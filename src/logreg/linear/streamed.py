"""A CSR matrix that is read from its file at every use instead of held in memory.

At 10^7 reviews the training split's X is ~10 GB of float32 values and int32 column
indices: more than a 4 GB job can hold. :class:`StreamedCSR` keeps the three arrays of a
``scipy.sparse.save_npz`` file memory-mapped and computes each product a block of rows at
a time; after a block it tells the kernel to unmap the block's pages (``MADV_DONTNEED``),
so the job's resident memory holds one block, not the file. The pages stay in the page
cache, so the next pass reads memory, not the disk, when the machine has room for it.

The products call the same compiled loops as scipy's ``X @ v`` and ``X.T @ r`` on the
whole matrix (``scipy.sparse._sparsetools``), over the rows in the same order and
accumulating into the same output, so they give the same numbers bit for bit: a fit on a
streamed matrix is the fit on the matrix in memory (``tests/linear/test_streamed.py``).
What a solver needs of X is its shape, dtype, and these two products; what it cannot do
without holding X (a column-major copy for coordinate descent, say) fails with a message.
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.sparse import _sparsetools  # scipy's own product loops (see the module docstring)

from logreg.linear.exceptions import InvalidParameterError

log = logging.getLogger(__name__)

#: Stored entries per block of rows: 16M entries are 128 MiB of float32 values and int32
#: indices mapped at once.
BLOCK_NNZ = 1 << 24

_PAGE = mmap.PAGESIZE


def sparse_like(X) -> bool:
    """True for a scipy sparse matrix and for a :class:`StreamedCSR`: the inputs whose
    products the solvers compute without densifying them."""
    return sp.issparse(X) or isinstance(X, StreamedCSR)


#: Solvers that touch X only through whole-matrix products (``X @ v``, ``X.T @ r``): the
#: ones a streamed X can feed. The others sample rows (sgd, minibatch) or need a column
#: copy (newton_cd, fista's screened L1 problems).
STREAMING_SOLVERS = ("newton_cg", "lbfgs", "gd")


def check_streamable(X, solver: str, what: str | None = None) -> None:
    """Refuse ``solver`` (or ``what`` it is asked to do, e.g. an L1 path's screening) on a
    streamed ``X`` it would have to hold in memory.

    Raises :class:`~logreg.linear.exceptions.InvalidParameterError` naming ``solver``.
    """
    if isinstance(X, StreamedCSR) and (what is not None or solver not in STREAMING_SOLVERS):
        raise InvalidParameterError(
            "solver",
            f"{what or f'solver {solver!r}'} needs X in memory, but X ({X.shape[0]} x "
            f"{X.shape[1]}, {X.nnz} stored entries) is read from its file at each pass "
            f"because it is larger than the dataset's stream_above_mb; use one of "
            f"{', '.join(STREAMING_SOLVERS)} without an L1 path, or raise stream_above_mb",
        )


class StreamedCSR:
    """A read-only CSR matrix whose ``data`` and ``indices`` stay in a memory-mapped file.

    Parameters
    ----------
    mapping : mmap.mmap
        The whole file, mapped read-only; ``data`` and ``indices`` are views into it.
    data, indices : ndarray
        The stored values and their column indices (views of ``mapping``).
    indptr : ndarray
        Row pointers, in memory (8 bytes per row at most).
    shape : (int, int)
    dtype : numpy dtype, optional
        The dtype products compute in; ``data``'s by default. :meth:`astype` gives a
        float64 view of float32 data without copying the file (each block is converted
        as it is read).
    block_nnz : int
        Stored entries per block of rows.
    source : str or path, optional
        The file, named in messages.

    Raises ValueError when the arrays do not make a CSR matrix of ``shape``.
    """

    def __init__(
        self, mapping, data, indices, indptr, shape, dtype=None, block_nnz=BLOCK_NNZ, source=None
    ):
        if (
            len(shape) != 2
            or data.dtype.kind not in "biuf"
            or indices.dtype.kind != "i"
            or indptr.dtype != indices.dtype
            or indptr.shape != (shape[0] + 1,)
            or indptr[0] != 0
            or indptr[-1] != data.size
            or data.size != indices.size
            or (np.diff(indptr) < 0).any()
        ):
            raise ValueError(
                f"not the arrays of a CSR matrix of shape {tuple(shape)}: {data.size} "
                f"{data.dtype} values, {indices.size} {indices.dtype} indices, row "
                f"pointers of {indptr.dtype} from {indptr[:1]} to {indptr[-1:]}"
            )
        self._mapping, self._data, self._indices = mapping, data, indices
        self.indptr = indptr
        self.shape = (int(shape[0]), int(shape[1]))
        if dtype is None:  # integer counts compute in float64, as check_features does
            dtype = data.dtype if data.dtype.kind == "f" else np.float64
        self.dtype = np.dtype(dtype)
        self.block_nnz = int(block_nnz)
        self._checked = False
        self.source = source
        self._base = _address(mapping)
        # Rows [starts[i], starts[i + 1]) make block i: about block_nnz entries each, at
        # least one row.
        targets = np.arange(0, int(indptr[-1]), self.block_nnz, dtype=np.int64)
        starts = np.searchsorted(indptr, targets, side="right") - 1
        self._starts = np.unique(np.concatenate([starts, [self.shape[0]]]).clip(0))
        if self._starts[0] != 0:
            self._starts = np.concatenate([[0], self._starts])
        # What reading the headers and copying the row pointers mapped (28 MB at 10^7 rows).
        mapping.madvise(mmap.MADV_DONTNEED)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def __repr__(self) -> str:
        return (
            f"<StreamedCSR {self.shape[0]}x{self.shape[1]}, {self.nnz} stored {self.dtype} "
            f"entries read in blocks of {self.block_nnz}>"
        )

    def astype(self, dtype) -> StreamedCSR:
        """The same file, products computed in ``dtype`` (no copy of the file)."""
        other = StreamedCSR.__new__(StreamedCSR)
        other.__dict__.update(self.__dict__)
        other.dtype = np.dtype(dtype)
        return other

    # -- blocks ------------------------------------------------------------------------
    def blocks(self) -> Iterator[tuple[int, int, sp.csr_matrix]]:
        """``(first_row, stop_row, rows)`` for each block, ``rows`` a CSR matrix whose
        arrays are views of the file's; its pages are let go once the caller moves on."""
        try:
            yield from self._mapped_blocks()
        finally:
            # The kernel maps a few pages around each faulting one (fault-around), some
            # outside the block: the end of a pass lets the whole file go.
            self._mapping.madvise(mmap.MADV_DONTNEED)

    def _mapped_blocks(self) -> Iterator[tuple[int, int, sp.csr_matrix]]:
        released = 0  # the entries below are unmapped
        for i in range(len(self._starts) - 1):
            r0, r1 = int(self._starts[i]), int(self._starts[i + 1])
            lo, hi = int(self.indptr[r0]), int(self.indptr[r1])
            indptr = (self.indptr[r0 : r1 + 1] - lo).astype(self._indices.dtype)
            data = self._data[lo:hi]
            if data.dtype != self.dtype:
                data = data.astype(self.dtype)
            block = sp.csr_matrix((r1 - r0, self.shape[1]), dtype=self.dtype)
            # Set directly: the constructor would check (and may copy) every index.
            block.data, block.indices, block.indptr = data, self._indices[lo:hi], indptr
            yield r0, r1, block
            # From the previous block's start: pages mapped around this block's first
            # faults belong to it.
            self._release(released, hi)
            released = lo

    def _release(self, lo: int, hi: int) -> None:
        """Unmap the pages of entries ``lo:hi`` from this process (not from the cache)."""
        for array in (self._data, self._indices):
            start = array.ctypes.data - self._base + lo * array.itemsize
            stop = start + (hi - lo) * array.itemsize
            first = start // _PAGE * _PAGE
            self._mapping.madvise(mmap.MADV_DONTNEED, first, stop - first)

    def check(self) -> None:
        """Refuse non-finite values and column indices out of range, in one pass (once:
        the file is read-only)."""
        if self._checked:
            return
        for r0, r1, block in self.blocks():
            where = f"rows {r0}..{r1 - 1} of {self.source or 'X'}"
            if block.indices.size and (
                int(block.indices.min()) < 0 or int(block.indices.max()) >= self.shape[1]
            ):
                raise ValueError(f"column index out of range 0..{self.shape[1] - 1} in {where}")
            if not np.isfinite(block.data).all():
                raise ValueError(f"Input X contains NaN or infinity in {where}")
        self._checked = True

    # -- products ------------------------------------------------------------------------
    def __matmul__(self, other):
        """``X @ other`` for ``other`` of shape (n_features,) or (n_features, k)."""
        other, result = _operand_and_result(self, other)
        for r0, r1, block in self.blocks():
            _matvec("csr", block, r1 - r0, self.shape[1], other, result[r0:r1])
        return result

    @property
    def T(self) -> _Transposed:
        """``X.T``: what ``X.T @ r`` needs (a view, as scipy's CSR transpose is)."""
        return _Transposed(self)

    # -- rows in memory ------------------------------------------------------------------
    def __getitem__(self, rows) -> sp.csr_matrix:
        """The rows ``rows`` (a slice, or an array of row indices or a boolean mask) as a
        CSR matrix in memory, in the order given."""
        if isinstance(rows, tuple):
            raise TypeError("a StreamedCSR selects rows only: X[rows]")
        index = np.arange(self.shape[0])[rows]
        if index.ndim != 1:
            raise TypeError(f"rows must be a slice or a 1-D index array, got {rows!r}")
        if index.size > 1 and index.size > self.shape[0] // 100:
            log.warning(
                "gathering %d of the %d rows of %s into memory (a row subset: cross-"
                "validation folds or an early-stopping holdout): stream_above_mb bounds "
                "only whole-split passes",
                index.size,
                self.shape[0],
                self.source or "a streamed X",
            )
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        parts = []
        for r0, r1, block in self.blocks():
            wanted = ordered[np.searchsorted(ordered, r0) : np.searchsorted(ordered, r1)]
            if wanted.size:
                parts.append(block[wanted - r0].astype(self.dtype, copy=True))
        if not parts:
            return sp.csr_matrix((0, self.shape[1]), dtype=self.dtype)
        gathered = sp.vstack(parts, format="csr")
        return gathered[np.argsort(order, kind="stable")]

    def tocsr(self) -> sp.csr_matrix:
        """All of X in memory (what this class exists to avoid; for small uses)."""
        return self[:]


class _Transposed:
    """``X.T`` of a :class:`StreamedCSR`: the product ``X.T @ r``."""

    def __init__(self, X: StreamedCSR):
        self._X = X
        self.shape = X.shape[::-1]
        self.dtype = X.dtype

    def __matmul__(self, other):
        """``X.T @ other`` for ``other`` of shape (n_samples,) or (n_samples, k)."""
        X = self._X
        other, result = _operand_and_result(self, other)
        for r0, r1, block in X.blocks():
            # The whole transpose is a CSC matrix with X's arrays; its product adds the
            # rows' contributions into result in row order, as this loop does.
            _matvec("csc", block, X.shape[1], r1 - r0, other[r0:r1], result)
        return result


def _operand_and_result(matrix, other):
    """``other`` checked and C-contiguous for ``matrix @ other``, and the zeros the product
    adds into, in the dtype scipy gives it."""
    other = np.asarray(other)
    if other.shape[:1] != (matrix.shape[1],) or other.ndim > 2:
        raise ValueError(f"matmul: the matrix is {matrix.shape}, the operand {other.shape}")
    other = np.ascontiguousarray(other)
    return other, np.zeros((matrix.shape[0], *other.shape[1:]), np.result_type(matrix.dtype, other))


def _matvec(kind: str, block: sp.csr_matrix, n_row: int, n_col: int, other, out) -> None:
    """``out += A @ other`` with scipy's loop for ``kind`` ('csr': A = block, 'csc':
    A = block.T), as ``scipy.sparse`` calls it for a whole matrix."""
    if other.ndim == 1:
        getattr(_sparsetools, f"{kind}_matvec")(
            n_row, n_col, block.indptr, block.indices, block.data, other, out
        )
    else:
        getattr(_sparsetools, f"{kind}_matvecs")(
            n_row, n_col, other.shape[1], block.indptr, block.indices, block.data,
            other.ravel(), out.ravel(),
        )  # fmt: skip


def _address(mapping) -> int:
    """The address where ``mapping`` starts."""
    return np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data
