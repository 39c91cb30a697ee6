"""A prepared folder's sparse splits are read when first used and can be let go of: the
values are those written, bit for bit, however often they are read, and those of the
folder as it was opened; a bad file still fails when the folder is opened; a run scores
the same with its splits let go of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from omegaconf import OmegaConf

from logreg.data import prepared
from logreg.data.prepared import SPLITS, PreparedDataset, load_prepared, save_prepared
from logreg.errors import DataError
from logreg.experiment import evaluation
from logreg.linear.estimators import LogisticRegression

SIZES = {"train": 80, "val": 30, "test": 40}


def _dataset(rng) -> PreparedDataset:
    X, y = {}, {}
    for split, n in SIZES.items():
        y[split] = np.arange(n) % 2
        dense = rng.random((n, 50)) * (rng.random((n, 50)) < 0.2) + 0.5 * y[split][:, None]
        X[split] = sp.csr_matrix(dense.astype(np.float32))
    names = [f"w{j}" for j in range(50)]
    return PreparedDataset(
        X, y, {"kind": "reviews", "class_names": ["neg", "pos"], "feature_names": names}
    )


@pytest.fixture
def folder(tmp_path):
    save_prepared(tmp_path / "prepared", _dataset(np.random.default_rng(0)))
    return tmp_path / "prepared"


@pytest.fixture
def reads(monkeypatch):
    """The sparse files read so far (their names, in order)."""
    seen = []
    load_npz = sp.load_npz

    def counting(file, *args, **kwargs):
        seen.append(Path(file.name).name)  # an open file
        return load_npz(file, *args, **kwargs)

    monkeypatch.setattr(prepared.sp, "load_npz", counting)
    return seen


def test_a_split_is_read_when_first_used_and_again_after_release(folder, reads):
    written = _dataset(np.random.default_rng(0))
    dataset = load_prepared(folder)
    assert reads == []  # opening reads no values
    assert dataset.shapes == {split: (n, 50) for split, n in SIZES.items()}
    X = dataset.X["train"]
    assert dataset.X["train"] is X and reads == ["X_train.npz"]  # read once, then kept
    dataset.release("train")
    again = dataset.X["train"]
    assert reads == ["X_train.npz", "X_train.npz"]
    for matrix in (X, again):
        assert isinstance(matrix, sp.csr_matrix)
        for part in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(matrix, part), getattr(written.X["train"], part))
            assert getattr(matrix, part).dtype == getattr(written.X["train"], part).dtype
    assert sorted(dataset.X) == sorted(SPLITS) and len(dataset.X) == 3


def test_a_split_read_later_is_the_one_the_folder_held_when_opened(folder):
    # A data stage that rewrites the folder meanwhile (atomic_dir renames it away) does
    # not mix another dataset's test split into the run.
    written = _dataset(np.random.default_rng(0))
    dataset = load_prepared(folder)
    save_prepared(folder, _dataset(np.random.default_rng(2)))
    assert (dataset.X["test"] != written.X["test"]).nnz == 0
    assert (load_prepared(folder).X["test"] != written.X["test"]).nnz > 0


def test_release_keeps_what_only_memory_holds():
    dataset = _dataset(np.random.default_rng(1))
    X = dataset.X["test"]
    dataset.release("test")
    assert dataset.X["test"] is X


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "File is not a zip file"),
        (lambda data: data.replace(b"data.npy", b"gone.npy"), "no data.npy in the archive"),
    ],
    ids=["truncated", "no values"],
)
def test_a_bad_sparse_file_fails_when_the_folder_is_opened(folder, damage, message):
    path = folder / "X_test.npz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(
        DataError, match=rf"X_test\.npz: cannot load the array: {message}; .*rerun the data stage"
    ):
        load_prepared(folder)


def test_labels_must_match_the_rows_before_any_split_is_read(folder, reads):
    np.save(folder / "y_val.npy", np.zeros(SIZES["val"] + 1, dtype=np.int64))
    with pytest.raises(DataError, match=r"31 labels for 30 rows in split 'val'"):
        load_prepared(folder)
    assert reads == []


def test_scores_are_the_same_when_each_split_is_let_go_after_scoring(folder, tmp_path):
    cfg = OmegaConf.create(
        {
            "dataset": {"path": str(folder)},
            "model": {"threshold": "val_f1"},
            "tracking": {"top_words": 5},
        }
    )
    kept, released = load_prepared(folder), load_prepared(folder)
    model = LogisticRegression(l2=1e-2).fit(kept.X["train"], kept.y["train"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = evaluation.evaluate(model, kept, cfg, tmp_path / "a")
    b = evaluation.evaluate(model, released, cfg, tmp_path / "b", release=True)
    assert a.metrics == b.metrics and a.threshold == b.threshold
    assert np.array_equal(a.test_proba, b.test_proba)
    assert np.array_equal(b.test_proba, model.predict_proba(kept.X["test"]))
    for name in ("weights.csv", "top_words.csv", "confusion_matrix.csv", "model.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
