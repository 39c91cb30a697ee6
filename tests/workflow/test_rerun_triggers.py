"""A result depends on everything that made it, and on nothing else.

After a complete demo run, in a copy of the repository, an edit of a preset plans that
experiment's training runs and no other, an edit of the package plans the results its
code makes, a changed text option plans the review branch, and an edit of the README,
docs or tests plans nothing (``snakemake -n``, as a user would check).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from commands import SNAKEMAKE, run
from paths import REPO

pytestmark = pytest.mark.slow


def _copy_of_the_repository(dest: Path) -> Path:
    """The tracked files of the repository (what a clone holds), without results."""
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def snakemake_in(clone: Path, *args: str) -> subprocess.CompletedProcess:
    # The copy's own package: its code versions hash the copy's files.
    return run(
        [str(SNAKEMAKE), "--cores", "2", *args],
        cwd=clone,
        timeout=900,
        env={"PYTHONPATH": str(clone / "src")},
    )


def planned(clone: Path, *args: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run plans."""
    result = snakemake_in(clone, "-n", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout):
        rule = re.match(r"(?:local)?rule (\w+):", block.strip())
        if rule:
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs.add((rule[1], wildcards[1].strip() if wildcards else ""))
    return jobs


def trained(jobs: set[tuple[str, str]]) -> set[str]:
    return {w for rule, w in jobs if rule == "train"}


@pytest.fixture(scope="module")
def clone(tmp_path_factory, demo_run):
    # The shared demo run (tests/workflow/conftest.py) put into a copy of the repository:
    # its code versions hash the copy's files, identical to the repository's, so the copy
    # is up to date as it is, and every plan below comes from the edit alone.
    clone = _copy_of_the_repository(tmp_path_factory.mktemp("clone"))
    demo_run.copy_into(clone)
    assert planned(clone) == set()
    return clone


def edit(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text


def test_readme_docs_and_tests_are_no_part_of_any_result(clone):
    for name in ("README.md", "docs/errors.md", "tests/test_layers.py", "benchmarks/README.md"):
        with (clone / name).open("a", encoding="utf-8") as f:
            f.write("\n<!-- an edit -->\n" if name.endswith(".md") else "\n# an edit\n")
    assert planned(clone) == set()


def test_a_preset_edit_reruns_that_experiment_alone(clone):
    preset = clone / "conf/experiment/faces_softmax_pixels.yaml"
    before = edit(preset, "max_iter: 300", "max_iter: 299")
    try:
        jobs = planned(clone)
        assert trained(jobs) == {"experiment=faces_softmax_pixels, dataset=demo"}
        assert {rule for rule, _ in jobs} == {"train", "summary", "all"}
    finally:
        preset.write_text(before, encoding="utf-8")
    assert planned(clone) == set()  # the same config again: nothing is stale


def test_the_review_preset_reruns_only_the_review_runs(clone):
    preset = clone / "conf/experiment/reviews.yaml"
    before = edit(
        preset,
        "experiment_name: reviews",
        "evaluation:\n  n_repeats: 1\n\nexperiment_name: reviews",
    )
    try:
        assert trained(planned(clone)) == {
            "experiment=reviews, dataset=demo/electronics",
            "experiment=reviews, dataset=demo/kitchen_&_housewares",
        }
    finally:
        preset.write_text(before, encoding="utf-8")


def test_a_code_edit_reruns_the_results_that_code_makes(clone):
    loss = clone / "src/logreg/linear/loss.py"
    before = loss.read_text(encoding="utf-8")
    loss.write_text(before + "\n# a comment is code: it may change what runs\n", encoding="utf-8")
    try:
        jobs = planned(clone)
        # Every training run uses the loss; no data stage does.
        assert len(trained(jobs)) == 6
        assert {rule for rule, _ in jobs} == {"train", "summary", "all"}
    finally:
        loss.write_text(before, encoding="utf-8")
    stage = clone / "src/logreg/data/faces/hog.py"
    before = stage.read_text(encoding="utf-8")
    stage.write_text(before + "\n# an edit of the face features\n", encoding="utf-8")
    try:
        jobs = planned(clone)
        rules = {rule for rule, _ in jobs}
        # The face data stage and the training runs (the served model of every run
        # computes face features from raw pixels with this code); no review data stage.
        assert "prepare_faces" in rules
        assert not rules & {"parse_reviews", "split_reviews", "build_vocabulary"}
    finally:
        stage.write_text(before, encoding="utf-8")


def test_the_workflow_text_options_reach_the_data_the_record_and_the_cv(clone):
    options = ("--config", "text={bigrams: false}")
    jobs = planned(clone, *options)
    rules = {rule for rule, _ in jobs}
    assert {"build_vocabulary", "vectorize_reviews"} <= rules
    assert "prepare_faces" not in rules and "parse_reviews" not in rules
    assert {w.split(",")[0] for w in trained(jobs)} == {"experiment=reviews"}
    result = snakemake_in(clone, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = clone / "results/runs/reviews/demo/electronics"
    metrics = yaml.safe_load((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["data.text.bigrams"] is False
    vocabulary = (clone / "results/data/reviews/demo/electronics/vocabulary.tsv").read_text()
    assert not any(" " in line.split("\t")[0] for line in vocabulary.splitlines()[1:])
    log = (clone / "results/logs/train/reviews/demo/electronics.log").read_text(encoding="utf-8")
    assert re.search(r"cross-validation: per-fold text features with .*bigrams=False", log)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{clone}/results/mlflow.db")
    params = client.get_run(metrics["mlflow_run_id"]).data.params
    assert params["data.text.bigrams"] == "False"
