"""``python -m logreg.reproduce``: a run rerun from its record comes out identical, bit for
bit; changed data, code or results are named; the original run and the store stay as
they were."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from reviews_data import prepare_domain
from threadpoolctl import threadpool_limits

from logreg.cli import run_cli
from logreg.data.faces.demo import write_demo_csv
from logreg.data.faces.kmeans import KmeansParams
from logreg.data.faces.prepare import prepare_faces
from logreg.data.reviews.demo import write_demo_data
from logreg.experiment.config import compose
from logreg.experiment.reproduce import main
from logreg.experiment.run import train
from logreg.provenance import git_state
from paths import SRC

# Each preset on small demo data, with the changes that keep a run to a second or two.
PRESETS = {
    "gaussian_clouds": ["dataset.n_samples=400"],
    "reviews": ["evaluation.n_splits=3", "evaluation.n_repeats=1", "selection.n_values=4"],
    "reviews_large": [],
    "faces_binary": [],
    "faces_softmax": [],
    "faces_softmax_hog": [],
    "faces_softmax_pixels": [],
}
SLOW_PRESETS = ("faces_softmax_hog", "faces_softmax_pixels")
FACE_FEATURES = ("pixels", "hog", "kmeans")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Raw demo data (reviews of one domain, a small FER2013 CSV) prepared as the
    workflow does, under ``<root>/results``; returns the root."""
    root = tmp_path_factory.mktemp("reproduce")
    write_demo_data(root / "raw", ["electronics"], seed=0, n_per_file=60)
    prepare_domain(root / "raw", root / "results", "demo", "electronics")
    write_demo_csv(root / "raw" / "fer2013.csv", 280, seed=1)
    small_kmeans = KmeansParams(n_centroids=16, n_patches=2000, n_iter=3)
    for features in FACE_FEATURES:
        prepare_faces(
            root / "raw" / "fer2013.csv",
            root / "results" / "data" / "faces" / "demo" / features,
            features=features,
            kmeans=small_kmeans if features == "kmeans" else None,
        )
    return root


def _train(demo, preset, folder, *overrides, tracking=False):
    base = [f"experiment={preset}", f"paths.results_dir={demo / 'results'}", "progress=false"]
    if preset != "gaussian_clouds":
        base.append("dataset.source=demo")
    if not tracking:
        base.append("tracking=none")
    row = train(compose([*base, *PRESETS[preset], *overrides]), folder)
    return folder, row


def _reproduce(capsys, *argv):
    """(exit status, stdout, stderr) of ``python -m logreg.reproduce argv``, in process."""
    try:
        run_cli(main, [str(a) for a in argv])
        status = 0
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def _hashes(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _one_byte_changed(path, offset=100):
    """``path`` with one byte changed, restored afterwards (the data is shared)."""
    original = path.read_bytes()
    changed = bytearray(original)
    changed[offset] = ord("#") if changed[offset] != ord("#") else ord("%")
    path.write_bytes(bytes(changed))
    try:
        yield
    finally:
        path.write_bytes(original)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Where the reruns' temporary folders go, to check that none is left behind."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# Wide pixel and HOG features take ten times longer on a loaded machine: slow.
@pytest.mark.parametrize(
    "preset",
    [pytest.param(p, marks=pytest.mark.slow) if p in SLOW_PRESETS else p for p in PRESETS],
)
def test_each_presets_demo_run_is_reproduced_identically(demo, preset, tmp_path, scratch, capsys):
    run, row = _train(demo, preset, tmp_path / "run")
    before = _hashes(run)
    status, out, err = _reproduce(capsys, run)
    assert status == 0, err
    assert out.startswith(f"identical: {run} rerun from its record (config.yaml, seed 0, commit")
    assert "model.npz (coef, intercept, class_names, threshold)" in out
    assert "test_predictions.csv" in out and "metrics.json (" in out
    assert "fit_seconds" in out.splitlines()[2]  # the excluded keys are listed
    if preset == "reviews":  # the CV protocol's outputs are part of the result
        assert "folds.csv" in out and "selection_path.csv" in out
    assert _hashes(run) == before
    assert not list(scratch.iterdir())


@pytest.mark.parametrize(
    ("preset", "raw_file"),
    [("reviews", "electronics/positive.review"), ("faces_softmax", "fer2013.csv")],
)
def test_a_changed_byte_of_the_raw_data_is_refused_naming_the_file(
    demo, preset, raw_file, tmp_path, capsys
):
    run, _ = _train(demo, preset, tmp_path / "run")
    path = demo / "raw" / raw_file
    recorded = _sha256(path)
    with _one_byte_changed(path):
        now = _sha256(path)
        status, out, err = _reproduce(capsys, run)
        assert status == 2 and not out
        assert len(err.strip().splitlines()) == 1
        assert f"data file {path}: recorded sha256 {recorded}, now {now}" in err
        assert "--force" in err
        # The prepared data is what was recorded: forced, the rerun is the same.
        status, out, err = _reproduce(capsys, run, "--force")
        assert status == 0 and out.startswith("identical")
        assert f"record mismatch (--force): data file {path}" in out
        assert f"warning: data file {path}" in err


def test_a_changed_prepared_file_is_refused_naming_it(demo, tmp_path, capsys):
    run, _ = _train(demo, "faces_softmax", tmp_path / "run")
    prepared = demo / "results" / "data" / "faces" / "demo" / "kmeans" / "X_train.npy"
    with _one_byte_changed(prepared, offset=-3):
        status, _, err = _reproduce(capsys, run)
        assert status == 2
        assert f"prepared file {prepared}: recorded sha256" in err
        # Forced: the rerun reads the changed features and says what came out otherwise.
        status, out, _ = _reproduce(capsys, run, "--force")
        assert status == 1 and "model.npz:coef" in out


def test_tampered_results_give_exit_1_and_a_table_of_what_differs(demo, tmp_path, capsys):
    run, _ = _train(demo, "gaussian_clouds", tmp_path / "run")
    with np.load(run / "model.npz") as model:
        arrays = dict(model)
    arrays["coef"][0, 1] = np.nextafter(arrays["coef"][0, 1], np.inf)  # the last bit
    np.savez(run / "model.npz", **arrays)
    metrics = json.loads((run / "metrics.json").read_text())
    recorded_loss = metrics["test_loss"]
    metrics["test_loss"] = 0.5
    metrics["fit_seconds"] = 1e6  # a timing: not compared
    (run / "metrics.json").write_text(json.dumps(metrics))
    lines = (run / "test_predictions.csv").read_text().splitlines()
    label, predicted, correct = lines[3].split(",")
    lines[3] = f"{label},{1 - int(predicted)},{1 - int(correct)}"
    (run / "test_predictions.csv").write_text("\n".join(lines) + "\n")

    status, out, _ = _reproduce(capsys, run)
    assert status == 1 and out.startswith("differs")
    table = out.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == ["name", "recorded", "reproduced"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"model.npz:coef", "test_predictions.csv", "metrics.json:test_loss"}
    assert f"[0, 1] = {float(arrays['coef'][0, 1])!r}" in rows["model.npz:coef"]
    assert "(1 of 2 values differ)" in rows["model.npz:coef"]
    assert f"line 4: {lines[3]}" in rows["test_predictions.csv"]
    assert rows["metrics.json:test_loss"].split()[1:] == ["0.5", repr(recorded_loss)]


def test_a_nan_threshold_equals_itself_and_a_missing_array_is_named(demo, tmp_path, capsys):
    run, _ = _train(demo, "faces_softmax", tmp_path / "run")
    with np.load(run / "model.npz") as model:
        arrays = dict(model)
    assert np.isnan(arrays["threshold"])  # softmax: no threshold, recorded as NaN
    del arrays["intercept"]
    np.savez(run / "model.npz", **arrays)
    status, out, _ = _reproduce(capsys, run)
    assert status == 1
    differing = [line.split() for line in out.split("\n\n", 1)[1].splitlines()[1:]]
    assert differing == [["model.npz:intercept", "(absent)", "present"]]


def _edit_provenance(run, **changes):
    path = run / "provenance.json"
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def test_another_commit_or_other_uncommitted_changes_are_refused(demo, tmp_path, capsys):
    run, _ = _train(demo, "gaussian_clouds", tmp_path / "run")
    now = git_state()
    _edit_provenance(run, git_commit="0" * 40)
    status, out, err = _reproduce(capsys, run)
    assert status == 2 and not out
    assert f"git commit: recorded {'0' * 40}, now {now['git_commit']}" in err

    status, out, err = _reproduce(capsys, run, "--force")
    assert status == 0 and out.startswith("identical")
    assert "record mismatch (--force): git commit: recorded 0000" in out

    other = {"true": "false", "false": "true"}[now["git_dirty"]]
    _edit_provenance(run, git_commit=now["git_commit"], git_dirty=other)
    status, _, err = _reproduce(capsys, run)
    trees = {"true": "a dirty tree", "false": "a clean tree"}
    assert status == 2
    assert f"uncommitted changes: recorded {trees[other]}, now {trees[now['git_dirty']]}" in err

    # A dirty tree is the same code only with the same changes.
    _edit_provenance(run, git_dirty="true", git_diff_sha256="0" * 64)
    status, _, err = _reproduce(capsys, run)
    assert status == 2 and "uncommitted changes: recorded" in err


@pytest.fixture(scope="module")
def dense_demo(tmp_path_factory):
    """HOG features of the workflow's 1,400 demo faces: products large enough for
    OpenBLAS to split them over threads."""
    root = tmp_path_factory.mktemp("dense")
    write_demo_csv(root / "fer2013.csv", 1400, seed=2013)
    prepare_faces(
        root / "fer2013.csv", root / "results" / "data" / "faces" / "demo" / "hog", features="hog"
    )
    return root


def test_the_rerun_uses_the_recorded_blas_threads(dense_demo, tmp_path, capsys):
    """The workflow trains on one BLAS thread, the command line on every core, and the
    same config then differs in the last bits: the rerun uses the recorded number."""
    with threadpool_limits(limits=1, user_api="blas"):
        run, _ = _train(dense_demo, "faces_binary", tmp_path / "run")
    assert json.loads((run / "provenance.json").read_text())["blas_threads"] == 1
    with threadpool_limits(limits=2, user_api="blas"):
        status, out, err = _reproduce(capsys, run)
        assert status == 0 and out.startswith("identical"), err
        # What the record prevents: the same run on two threads.
        _edit_provenance(run, blas_threads=2)
        status, out, _ = _reproduce(capsys, run)
        assert status == 1 and "model.npz:coef" in out


def test_a_run_without_provenance_is_refused_unless_forced(demo, tmp_path, capsys):
    run, _ = _train(demo, "gaussian_clouds", tmp_path / "run")
    (run / "provenance.json").unlink()
    status, _, err = _reproduce(capsys, run)
    assert status == 2 and "no provenance.json: the run's commit and data were not recorded" in err
    status, out, _ = _reproduce(capsys, run, "--force")
    assert status == 0 and out.startswith("identical")


def _store_runs(uri):
    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return [r.info.run_id for r in client.search_runs(experiments)]


def test_an_mlflow_run_is_reproduced_and_the_store_is_left_as_it_was(
    demo, tmp_path, scratch, capsys
):
    run, row = _train(demo, "reviews", tmp_path / "run", tracking=True)
    results = demo / "results"
    uri = f"sqlite:///{results / 'mlflow.db'}"
    runs = _store_runs(uri)
    store = _hashes(results / "artifacts") | {"mlflow.db": _sha256(results / "mlflow.db")}
    folder = _hashes(run)

    status, out, err = _reproduce(capsys, row["mlflow_run_id"], "--tracking-uri", uri)
    assert status == 0, err
    assert out.startswith(f"identical: MLflow run {row['mlflow_run_id']} rerun from its record")
    assert "MLflow metrics (" in out and "folds.csv" in out
    assert _store_runs(uri) == runs
    assert _hashes(results / "artifacts") | {"mlflow.db": _sha256(results / "mlflow.db")} == store
    assert _hashes(run) == folder
    assert not list(scratch.iterdir())

    # Runs logged before provenance.json: the tags name the data files by name only.
    client = MlflowClient(tracking_uri=uri)
    # mlflow-artifacts:/<run id>/artifacts, in the artifacts/ folder beside the store
    artifact_uri = client.get_run(row["mlflow_run_id"]).info.artifact_uri
    artifacts = results / "artifacts" / artifact_uri.removeprefix("mlflow-artifacts:/")
    (tmp_path / "old").mkdir()
    shutil.move(f"{artifacts}/provenance.json", tmp_path / "old")
    raw = demo / "raw" / "electronics" / "negative.review"
    with _one_byte_changed(raw):
        status, _, err = _reproduce(capsys, row["mlflow_run_id"], "--tracking-uri", uri)
    shutil.move(tmp_path / "old" / "provenance.json", artifacts)
    assert status == 2 and f"data file {raw}: recorded sha256" in err


def test_an_unknown_run_or_store_is_one_line_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "results" / "mlflow.db"
    status, _, err = _reproduce(capsys, "0" * 32, "--tracking-uri", f"sqlite:///{missing}")
    assert status == 2 and "no tracking store here" in err and not missing.parent.exists()
    status, _, err = _reproduce(capsys, tmp_path / "nothing")
    assert status == 2 and "no such run folder, nor an MLflow run id" in err
    status, _, err = _reproduce(capsys, tmp_path)
    assert status == 2 and "not a run folder (no config.yaml)" in err


def test_out_keeps_the_rerun_in_a_new_folder_only(demo, tmp_path, capsys):
    run, _ = _train(demo, "gaussian_clouds", tmp_path / "run")
    status, out, _ = _reproduce(capsys, run, "--out", tmp_path / "kept")
    assert status == 0 and f"rerun kept in {tmp_path / 'kept'}" in out
    assert (tmp_path / "kept" / "model.npz").read_bytes() == (run / "model.npz").read_bytes()
    for out_dir, message in (
        (run, "inside the run being reproduced"),
        (tmp_path / "kept", "exists and is not an empty folder"),
    ):
        status, _, err = _reproduce(capsys, run, "--out", out_dir)
        assert status == 2 and message in err


@pytest.mark.slow
def test_command_line_runs_and_sweep_jobs_are_reproduced(tmp_path):
    """The Hydra entry point's folders, a sweep job's folder and its MLflow run, by the
    commands a user types."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    base = ["experiment=gaussian_clouds", "progress=false"]
    assert run("logreg.train", *base, "dataset.n_samples=300").returncode == 0
    assert run("logreg.train", "-m", *base, "dataset.n_samples=200,300").returncode == 0
    cli_run = tmp_path / "results" / "cli-runs" / "gaussian_clouds" / "generated"
    sweep = tmp_path / "results" / "sweeps" / "gaussian_clouds" / "generated"
    job = sweep / "1_dataset.n_samples=300"
    job_id = json.loads((job / "metrics.json").read_text())["mlflow_run_id"]
    for ref in (cli_run / "dataset.n_samples=300", job, job_id):
        done = run("logreg.reproduce", str(ref))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("identical")
