"""``dataset.stream_above_mb`` changes where a run's X lives, never what the run finds: the
same preset on the same folder, splits streamed from their files or held in memory, writes
the same model, weights, predictions and selection path, byte for byte."""

from __future__ import annotations

import pytest
from reviews_data import prepare_domain

from logreg.data.reviews.demo import write_demo_data
from logreg.errors import ConfigError
from logreg.experiment.config import check_config, compose
from logreg.experiment.run import train
from logreg.linear.streamed import StreamedCSR

FILES = ("model.npz", "weights.csv", "test_predictions.csv", "selection_path.csv")


def _demo_run_overrides(tmp_path, n_per_file: int) -> list[str]:
    """Demo reviews of one domain prepared under ``tmp_path``; a reviews_large run of them."""
    write_demo_data(tmp_path / "raw", ["electronics"], seed=0, n_per_file=n_per_file)
    prepare_domain(tmp_path / "raw", tmp_path / "results", "demo", "electronics")
    return [
        "experiment=reviews_large",
        "dataset.source=demo",
        f"paths.results_dir={tmp_path / 'results'}",
        "tracking=none",
        "progress=false",
    ]


def test_a_streamed_run_is_the_run_in_memory(tmp_path, monkeypatch):
    base = _demo_run_overrides(tmp_path, n_per_file=60)
    passes, blocks = [], StreamedCSR.blocks
    monkeypatch.setattr(StreamedCSR, "blocks", lambda X: passes.append(X.shape) or blocks(X))
    rows = {}
    for way, limit in (("memory", "null"), ("streamed", "0")):
        rows[way] = train(compose([*base, f"dataset.stream_above_mb={limit}"]), tmp_path / way)
        assert bool(passes) == (way == "streamed")  # the streamed run read X from its files
    for name in FILES:
        assert (tmp_path / "streamed" / name).read_bytes() == (
            tmp_path / "memory" / name
        ).read_bytes(), name
    for key in ("test_accuracy", "val_accuracy", "l2", "n_iter"):
        assert rows["streamed"][key] == rows["memory"][key], key


def test_a_solver_that_cannot_stream_is_a_config_error_naming_its_key(tmp_path):
    base = [*_demo_run_overrides(tmp_path, n_per_file=30), "dataset.stream_above_mb=0"]
    for solver, selection in (("sgd", "fixed"), ("newton_cd", "cv_path")):  # a fit, a path
        overrides = [f"optimizer={solver}", f"selection={selection}"]
        with pytest.raises(ConfigError, match=rf"optimizer\.solver.*'{solver}' needs X in memory"):
            train(compose([*base, *overrides]), tmp_path / "run")


def test_a_negative_stream_limit_is_refused_when_the_config_is_checked():
    with pytest.raises(ConfigError, match=r"dataset\.stream_above_mb.*-1"):
        check_config(compose(["experiment=reviews_large", "dataset.stream_above_mb=-1"]))
