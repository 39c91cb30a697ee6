"""A sparse split streamed from its file (``dataset.stream_above_mb``) gives the numbers of
the same split held in memory, bit for bit: its products, a fit, a path, the scores. The
solvers that would have to hold it refuse it by name, and a bad file fails naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from logreg.data.prepared import PreparedDataset, load_prepared, save_prepared
from logreg.errors import DataError
from logreg.linear.estimators import LogisticRegression, SoftmaxRegression
from logreg.linear.exceptions import InvalidParameterError
from logreg.linear.path import regularization_path
from logreg.linear.streamed import StreamedCSR


def _matrix(rng, n, d, dtype=np.float32) -> sp.csr_matrix:
    X = sp.random(n, d, density=0.05, format="csr", dtype=np.float64, random_state=rng)
    keep = np.arange(n) % 7 != 0  # empty rows, between blocks and inside them
    X = sp.csr_matrix(sp.diags(keep.astype(float)) @ X).astype(dtype)
    X.eliminate_zeros()
    return X


def _streamed(tmp_path, X, y=None, block_nnz=37) -> tuple[StreamedCSR, PreparedDataset]:
    """``X`` (and ``y``) as every split of a prepared folder, loaded with all splits
    streamed in blocks of ``block_nnz`` stored entries (a few rows each)."""
    y = np.arange(X.shape[0]) % 2 if y is None else y
    meta = {"kind": "reviews", "class_names": [str(c) for c in np.unique(y)]}
    splits = ("train", "val", "test")
    dataset = PreparedDataset({s: X for s in splits}, {s: y for s in splits}, meta)
    save_prepared(tmp_path / "p", dataset)
    dataset = load_prepared(tmp_path / "p", stream_above_mb=0)
    streamed = dataset.X["train"]
    assert isinstance(streamed, StreamedCSR)
    streamed = StreamedCSR(
        streamed._mapping, streamed._data, streamed._indices, streamed.indptr, streamed.shape,
        block_nnz=block_nnz, source=streamed.source,
    )  # fmt: skip
    return streamed, dataset


@pytest.mark.parametrize(
    "dtype, block_nnz", [(np.float32, 37), (np.float64, 37), (np.float32, 1)]
)  # block_nnz 1: rows longer than a block
def test_products_are_scipys_bit_for_bit(tmp_path, dtype, block_nnz):
    rng = np.random.default_rng(0)
    X = _matrix(rng, 300, 80, dtype)
    S, _ = _streamed(tmp_path, X, block_nnz=block_nnz)
    assert len(S._starts) > 20  # many blocks
    for other_dtype in (np.float32, np.float64):
        v = rng.standard_normal(80).astype(other_dtype)
        V = rng.standard_normal((80, 3)).astype(other_dtype)
        r = rng.standard_normal(300).astype(other_dtype)
        R = rng.standard_normal((300, 4)).astype(other_dtype)
        for got, want in [
            (S @ v, X @ v),
            (S @ V, X @ V),
            (S @ np.asfortranarray(V), X @ V),  # operands not C-contiguous
            (S @ V[:, ::2], X @ V[:, ::2]),
            (S @ V[:, :1], X @ V[:, :1]),  # one column
            (S.T @ r, X.T @ r),
            (S.T @ R, X.T @ R),
            (S.astype(np.float64) @ v, X.astype(np.float64) @ v),
            (S.astype(np.float64).T @ R, X.astype(np.float64).T @ R),
        ]:
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"matmul: the matrix is \(300, 80\), the operand \(81,\)"):
        S @ np.ones(81)


def test_rows_are_those_of_the_matrix_in_memory(tmp_path):
    rng = np.random.default_rng(1)
    X = _matrix(rng, 200, 30)
    S, _ = _streamed(tmp_path, X)
    for rows in (slice(None), slice(10, 150, 3), np.array([150, 3, 3, 77, 0]), X.getnnz(1) > 2):
        got = S[rows]
        assert sp.isspmatrix_csr(got) or isinstance(got, sp.csr_array)
        np.testing.assert_array_equal(got.toarray(), X[rows].toarray())
    np.testing.assert_array_equal(S.tocsr().toarray(), X.toarray())


@pytest.mark.parametrize("solver", ["newton_cg", "lbfgs"])
def test_a_fit_on_the_streamed_matrix_is_the_fit_in_memory(tmp_path, solver):
    rng = np.random.default_rng(2)
    X = _matrix(rng, 400, 60)
    y = (X @ rng.standard_normal(60) + 0.3 * rng.standard_normal(400) > 0).astype(int)
    S, _ = _streamed(tmp_path, X, y)
    fits = [
        LogisticRegression(solver=solver, l2=1e-3, tol=1e-6, max_iter=200).fit(A, y) for A in (X, S)
    ]
    np.testing.assert_array_equal(fits[1].coef_, fits[0].coef_)
    np.testing.assert_array_equal(fits[1].intercept_, fits[0].intercept_)
    assert fits[1].n_iter_ == fits[0].n_iter_ > 1
    np.testing.assert_array_equal(fits[1].predict_proba(S), fits[0].predict_proba(X))


def test_a_softmax_path_on_the_streamed_matrix_is_the_path_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    X = _matrix(rng, 300, 40)
    y = (X @ rng.standard_normal((40, 3))).argmax(axis=1)
    S, _ = _streamed(tmp_path, X, y)
    estimator = SoftmaxRegression(solver="newton_cg", tol=1e-5)
    paths = [regularization_path(estimator, A, y, l2s=[1e-1, 1e-2, 1e-3]) for A in (X, S)]
    np.testing.assert_array_equal(paths[1].coefs, paths[0].coefs)
    np.testing.assert_array_equal(paths[1].intercepts, paths[0].intercepts)


@pytest.mark.parametrize("solver", ["newton_cd", "sgd", "minibatch"])
def test_a_solver_that_would_hold_the_matrix_refuses_it_by_name(tmp_path, solver):
    X = _matrix(np.random.default_rng(4), 100, 20)
    S, _ = _streamed(tmp_path, X)
    model = LogisticRegression(solver=solver, l1=1e-3 if solver == "newton_cd" else 0.0)
    with pytest.raises(ValueError, match=f"solver '{solver}' needs X in memory.*stream_above_mb"):
        model.fit(S, np.arange(100) % 2)


@pytest.mark.parametrize("solver", ["auto", "gd"])
def test_an_l1_path_refuses_the_streamed_matrix(tmp_path, solver):
    X = _matrix(np.random.default_rng(5), 100, 20)
    S, _ = _streamed(tmp_path, X)
    with pytest.raises(InvalidParameterError, match="needs X in memory"):
        regularization_path(
            LogisticRegression(solver=solver), S, np.arange(100) % 2, l1s=[1e-2, 1e-3]
        )


def _mapped_kb(file) -> int:
    """Resident kB of this process's mappings of ``file`` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
            inside = line.rstrip().endswith(str(file))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's smaps")
def test_a_pass_leaves_none_of_the_file_in_memory(tmp_path):
    X = _matrix(np.random.default_rng(9), 20_000, 400)  # 3 MB of stored values
    S, _ = _streamed(tmp_path, X, block_nnz=50_000)
    file = tmp_path / "p" / "X_train.npz"
    seen = []
    for _, _, block in S.blocks():  # while a block is in use, its pages are mapped
        block @ np.ones(400)
        seen.append(_mapped_kb(file))
    assert max(seen) >= 300  # 50,000 entries x 8 bytes
    assert _mapped_kb(file) <= 8  # after the pass: nothing but a page or two
    S @ np.ones(400, np.float32), S.T @ np.ones(20_000, np.float32)
    assert _mapped_kb(file) <= 8


def test_integer_values_compute_in_float64(tmp_path):
    X = _matrix(np.random.default_rng(10), 80, 12)
    counts = sp.csr_matrix((np.ceil(X.data * 5).astype(np.int32), X.indices, X.indptr), X.shape)
    S, _ = _streamed(tmp_path, counts)
    assert S.dtype == np.float64
    v = np.random.default_rng(11).standard_normal(12)
    np.testing.assert_array_equal(S @ v, counts.astype(np.float64) @ v)


def test_a_non_finite_value_is_refused_naming_the_file_and_rows(tmp_path):
    X = _matrix(np.random.default_rng(6), 100, 20)
    X.data[X.indptr[50]] = np.nan
    S, _ = _streamed(tmp_path, X)
    with pytest.raises(ValueError, match=r"NaN or infinity in rows \d+\.\.\d+ of .*X_train\.npz"):
        LogisticRegression().fit(S, np.arange(100) % 2)


def test_a_bad_file_fails_naming_it(tmp_path):
    X = _matrix(np.random.default_rng(7), 60, 10)
    _, dataset = _streamed(tmp_path, X)
    folder = tmp_path / "p"
    sp.save_npz(folder / "X_val.npz", X, compressed=True)  # what the stage never writes
    with pytest.raises(DataError, match=r"X_val\.npz.*compressed"):
        load_prepared(folder, stream_above_mb=0).X["val"]
    # Row pointers that do not add up to the stored entries: refused before any product.
    bad = X.copy()
    bad.indptr = bad.indptr.copy()
    bad.indptr[-1] -= 1
    np.savez(folder / "X_test.npz", data=bad.data, indices=bad.indices, indptr=bad.indptr,
             format=np.array(b"csr"), shape=np.array(bad.shape))  # fmt: skip
    with pytest.raises(DataError, match=r"X_test\.npz.*not the arrays of a CSR matrix"):
        load_prepared(folder, stream_above_mb=0).X["test"]


def test_streaming_is_chosen_by_the_file_size(tmp_path):
    X = _matrix(np.random.default_rng(8), 60, 10)
    _streamed(tmp_path, X)
    size_mb = (tmp_path / "p" / "X_train.npz").stat().st_size / 2**20
    assert sp.issparse(load_prepared(tmp_path / "p").X["train"])
    assert sp.issparse(load_prepared(tmp_path / "p", stream_above_mb=size_mb).X["train"])
    assert isinstance(
        load_prepared(tmp_path / "p", stream_above_mb=size_mb * 0.99).X["train"], StreamedCSR
    )
