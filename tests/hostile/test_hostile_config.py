"""Hostile configuration: the training's Hydra command line and the workflow's config.

A bad value stops before any work, with one message naming the config key and what
was expected; no output file and no MLflow run is left behind. No config value
reaches a shell unquoted.
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import cases
import pytest
import yaml
from harness import REPO, record, snakemake
from mlflow.tracking import MlflowClient

from logreg.experiment.workflow_config import WorkflowConfigError, check_workflow_config

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
WORKFLOW_CONFIG = yaml.safe_load((REPO / "conf" / "workflow" / "config.yaml").read_text())

# (what, overrides, exit status, the message: a regular expression)
TRAIN_CASES = [
    (
        "an experiment that does not exist",
        ["experiment=nope"],
        2,
        r"error: config: In 'train': Could not find 'experiment/nope', options of "
        r"'experiment': faces_binary, faces_softmax, .*",
    ),
    (
        "an unknown key",
        ["optimizer.nope=1"],
        2,
        r"error: config key 'optimizer\.nope': no such key; optimizer has solver, lr, .*",
    ),
    (
        "a key added with + that no config group defines",
        ["+penalty.l3=0.01"],
        2,
        r"error: config key 'penalty\.l3': '\+penalty\.l3=0\.01' adds a key that no config "
        r"group defines, so nothing would read it; .*",
    ),
    (
        "a value of the wrong type",
        ["optimizer.lr=fast"],
        2,
        r"error: config: Error merging override optimizer\.lr=fast, Value 'fast' of type "
        r"'str' could not be converted to Float",
    ),
    (
        "a penalty that the preset's selection would replace",
        ["experiment=reviews", "penalty.l2=0.01"],
        2,
        r"error: config key 'penalty\.l2': set to 0\.01, but selection=cv_path chooses l2 "
        r"along its path \(l2 from 0\.01 to 1e-05\) and would replace it; add "
        r"selection=fixed to fit with penalty\.l2=0\.01, .*",
    ),
    (
        "a stochastic solver with a preset that selects its penalty (minibatch)",
        ["experiment=reviews", "optimizer=minibatch"],
        2,
        r"error: config key 'optimizer\.solver': a regularization path needs a deterministic "
        r"solver, got 'minibatch' for selection=cv_path; use auto or one of gd, lbfgs, fista, "
        r"newton_cd, newton_cg, or selection=fixed to fit one penalty",
    ),
    (
        "a stochastic solver with a preset that selects its penalty (sgd)",
        ["experiment=faces_softmax", "optimizer=sgd"],
        2,
        r"error: config key 'optimizer\.solver': a regularization path needs a deterministic "
        r"solver, got 'sgd' for selection=cv_path; .*",
    ),
    (
        "a negative L1 strength",
        ["optimizer=fista", "penalty=l1", "penalty.l1=-0.5"],
        2,
        r"error: config key 'penalty\.l1': l1 must be >= 0, got -0\.5",
    ),
    (
        "a negative L2 strength",
        ["penalty.l2=-1"],
        2,
        r"error: config key 'penalty\.l2': l2 must be >= 0, got -1\.0",
    ),
    (
        "a learning rate of 0",
        ["optimizer=gd", "optimizer.lr=0"],
        2,
        r"error: config key 'optimizer\.lr': lr must be > 0, got 0\.0",
    ),
    (
        "a negative learning rate",
        ["optimizer=sgd", "optimizer.lr=-0.1"],
        2,
        r"error: config key 'optimizer\.lr': lr must be > 0, got -0\.1",
    ),
    (
        "a batch size of 0",
        ["optimizer=minibatch", "optimizer.batch_size=0"],
        2,
        r"error: config key 'optimizer\.batch_size': batch_size must be an integer >= 1, got 0",
    ),
    (
        "an unknown solver",
        ["optimizer.solver=newton"],
        2,
        r"error: config key 'optimizer\.solver': solver must be one of auto, gd, sgd, "
        r"minibatch, lbfgs, fista, newton_cd, newton_cg, got 'newton'",
    ),
    (
        "L1 with a solver that cannot do it",
        ["optimizer=lbfgs", "penalty=l1", "penalty.l1=0.1"],
        2,
        r"error: config key 'optimizer\.solver': solver='lbfgs' cannot handle an L1 penalty "
        r"\(l1=0\.1\); use one of gd, sgd, minibatch, fista, newton_cd",
    ),
    (
        "a domain that was never prepared",
        ["experiment=reviews", "dataset.domain=books"],
        2,
        r"error: config key 'dataset\.source': got 'demo': no prepared reviews data in "
        r"results/data/reviews/demo; none is prepared \(the workflow prepares them: .*\)",
    ),
]


def _no_outputs(results: Path) -> None:
    written = [p.name for p in results.rglob("*") if p.suffix in (".json", ".npz", ".csv")]
    assert written == [], written
    assert not (results / "mlflow.db").exists()  # no MLflow run was started


@pytest.mark.parametrize(
    "what, overrides, status, message", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES]
)
def test_bad_training_config_stops_before_any_work(train_cli, what, overrides, status, message):
    argv = [*overrides, "paths.results_dir=results"]
    code, shown = train_cli(argv)
    assert code == status
    assert re.fullmatch(message, shown), shown
    _no_outputs(Path("results"))
    record("Training config", what, "python -m logreg.train " + " ".join(argv), shown)


def test_a_misspelt_domain_names_the_domains_that_are_prepared(train_cli):
    for domain in ("electronics", "kitchen_&_housewares"):
        prepared = Path("results/data/reviews/demo", domain, "prepared")
        prepared.mkdir(parents=True)
        (prepared / "meta.json").write_text("{}", encoding="utf-8")
    argv = ["experiment=reviews", "dataset.domain=electronic", "paths.results_dir=results"]
    code, shown = train_cli(argv)
    assert code == 2
    assert shown == (
        "error: config key 'dataset.domain': got 'electronic': no prepared data at "
        "results/data/reviews/demo/electronic/prepared; prepared for source 'demo': "
        "electronics, kitchen_&_housewares"
    )
    assert not Path("results/cli-runs").exists() and not Path("results/mlflow.db").exists()
    record(
        "Training config", "a misspelt domain", "python -m logreg.train " + " ".join(argv), shown
    )


def test_a_batch_larger_than_the_data_names_the_config_key(train_cli):
    argv = [
        "optimizer=minibatch",
        "optimizer.batch_size=100000",
        "dataset.n_samples=400",
        "paths.results_dir=results",
    ]
    code, shown = train_cli(argv)
    assert code == 2
    assert re.fullmatch(r"error: config key 'optimizer\.batch_size': .*100000.*400.*", shown)
    # By its absolute path: MLflow caches a store per URI, and a relative one would still
    # name the file of an earlier test's working folder.
    client = MlflowClient(tracking_uri=f"sqlite:///{Path('results/mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("gaussian_clouds")
    # Checked before any run starts (no experiment yet), or a run marked FAILED.
    runs = [] if experiment is None else client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] in ([], ["FAILED"])
    assert all("batch_size" in r.data.tags["error"] for r in runs)
    record(
        "Training config",
        "a batch larger than the data",
        "python -m logreg.train " + " ".join(argv),
        shown,
    )


# --- the workflow config --------------------------------------------------------------


def _config(**changes) -> dict:
    config = copy.deepcopy(WORKFLOW_CONFIG)
    config.update(changes)
    return config


@pytest.mark.parametrize(
    "changes, where",
    [
        ({"seed": -1}, r"seed: got -1; allowed: an integer >= 0"),
        ({"nope": 1}, r"nope: unknown key; allowed here: reviews_dir, .*, experiments"),
        ({"review_domains": ["a;b"]}, r"review_domains\[0\]: got 'a;b'; allowed: text matching"),
        ({"review_domains": ["kitchen housewares"]}, r"got 'kitchen housewares'; allowed: text"),
        ({"review_domains": ["$(touch x)"]}, r"got '\$\(touch x\)'; allowed: text matching"),
        ({"review_domains": ["../etc"]}, r"got '\.\./etc'; allowed: text matching"),
        (
            {"experiments": [{"name": "a;rm -rf x", "overrides": []}]},
            r"experiments\[0\]\.name: got 'a;rm -rf x'; allowed: text matching",
        ),
        ({"experiments": [{"name": "$(id)", "overrides": []}]}, r"allowed: text matching"),
        ({"experiments": [{"name": "x"}]}, r"experiments\[0\]\.overrides: missing; required here"),
        ({"results_dir": "out;touch x"}, r"results_dir: got 'out;touch x'; allowed: text matching"),
        ({"tracking_uri": "sqlite:///$(id).db"}, r"tracking_uri: got .*; allowed: text .* or null"),
        (
            {"faces": {"normalization": "zscore"}},
            r"faces\.normalization: got 'zscore'; allowed: one of scale, per_pixel, per_image",
        ),
        (
            {"split": {"test_fraction": 1.5}},
            r"split\.test_fraction: got 1\.5; allowed: a number > 0 and < 1",
        ),
    ],
)
def test_the_schema_refuses_bad_and_shell_hostile_values_in_one_line(changes, where):
    with pytest.raises(WorkflowConfigError, match=r"^workflow config key .*" + where) as info:
        check_workflow_config(_config(**changes), SCHEMA)
    assert "\n" not in str(info.value)


def test_the_schema_keeps_the_shipped_config_and_real_data_paths():
    check_workflow_config(_config(), SCHEMA)
    check_workflow_config(
        _config(
            reviews_dir="../shared/data/sentiment/sorted_data_acl",
            review_domains=["electronics", "kitchen_&_housewares"],
            results_dir="/tmp/pytest-of-ci/pytest-1/my results",
            tracking_uri="http://user@127.0.0.1:5000",
        ),
        SCHEMA,
    )


def test_nested_config_values_from_the_command_line_are_read_as_yaml():
    """``--config split='{test_fraction: 0.3}'`` gives Snakemake the text '0.3': read where
    the schema takes no text; text where it does stays text; missing keys get defaults."""
    config = _config(split={"test_fraction": "0.3"}, reviews_name="2013")
    del config["seed"]
    check_workflow_config(config, SCHEMA)
    assert config["split"] == {"test_fraction": 0.3, "val_fraction": 0.1}
    assert config["reviews_name"] == "2013"
    assert config["seed"] == 2013


def _snakemake_error(result) -> str:
    """The lines of Snakemake's error that say what is wrong (paths, key, value)."""
    output = result.stdout + result.stderr
    for pattern in (
        r"Missing input files for rule \w+:\n(?:.*\n)*?    affected files:"
        r"\n(?:        .*\n)+",
        r"  ValueError: .*",
        r"workflow config key .*",
        r"ValueError in file .*\n(.*)",  # raised while the workflow is read (common.smk)
    ):
        found = re.search(pattern, output)
        if found:
            text = found.group(0) if found.lastindex is None else "ValueError: " + found[1]
            if "affected files:\n" in text:  # listed in a set's order: sort them
                head, files = text.split("affected files:\n")
                text = head + "affected files:\n" + "\n".join(sorted(files.splitlines()))
            return "\n".join(line.strip() for line in text.splitlines() if line.strip())
    raise AssertionError(f"no error found in:\n{output[-3000:]}")


@pytest.mark.parametrize(
    "what, args, expected",
    [
        (
            "an invalid value (schema)",
            ["--config", "seed=-1"],
            "workflow config key seed: got -1; allowed: an integer >= 0",
        ),
        (
            "a value of the wrong type (schema)",
            ["--config", "seed=abc"],
            "workflow config key seed: got 'abc'; allowed: an integer >= 0",
        ),
        (
            "a nested value out of range (schema)",
            ["--config", "split={test_fraction: 2}"],
            "workflow config key split.test_fraction: got 2; allowed: a number > 0 and < 1",
        ),
        (
            "a value that is not one of the choices (schema)",
            ["--config", "text={weighting: idf}"],
            "workflow config key text.weighting: got 'idf'; allowed: one of counts, binary, "
            "proportions, tfidf",
        ),
        (
            "an unknown key (schema)",
            ["--config", "nope=1"],
            "workflow config key nope: unknown key; allowed here: reviews_dir, review_domains, "
            "reviews_name, fer2013_name, fer2013_path, results_dir, tracking_uri, seed, split, "
            "reviews, text, faces, experiments",
        ),
        (
            "a tracking_uri with ';' (schema)",
            ["--config", "tracking_uri=sqlite:///a;b.db"],
            "workflow config key tracking_uri: got 'sqlite:///a;b.db'; allowed: text matching "
            "^[A-Za-z0-9_./:@%+?-]+( +[A-Za-z0-9_./:@%+?-]+)*$ or null",
        ),
        (
            "a reviews_dir that does not exist",
            ["--config", "reviews_dir=nowhere", 'review_domains=["dom"]'],
            "workflow config key reviews_dir: review files not found: "
            "nowhere/dom/positive.review, nowhere/dom/negative.review",
        ),
        (
            "a domain folder without negative.review",
            ["--config", "reviews_dir=data", 'review_domains=["dom"]'],
            "workflow config key reviews_dir: review files not found: data/dom/negative.review",
        ),
        (
            "review_domains=auto on a folder without domains",
            ["--config", "reviews_dir=nowhere", "review_domains=auto"],
            "workflow config key review_domains: auto found no <domain>/positive.review "
            "and negative.review under reviews_dir nowhere",
        ),
        (
            "a FER2013 file that does not exist",
            ["--config", "fer2013_path=nowhere/fer2013.csv"],
            "workflow config key fer2013_path: not found: nowhere/fer2013.csv",
        ),
        (
            "a source name that claims the demo for other data",
            ["--config", "reviews_dir=data", 'review_domains=["dom"]', "reviews_name=demo"],
            "workflow config key reviews_name: 'demo' is reserved for the bundled demo data, "
            "and data is other data",
        ),
        (
            "an experiment whose overrides do not compose",
            ["--configfile", "bad_experiment.yaml"],
            "ValueError: experiment 'clouds' in the workflow config: its overrides "
            "['experiment=nope'] do not compose: In 'train': Could not find 'experiment/nope', "
            "options of 'experiment': faces_binary, faces_softmax, faces_softmax_hog, "
            "faces_softmax_pixels, gaussian_clouds, reviews, reviews_large",
        ),
        (
            "an experiment with dataset.features that no rule prepares",
            ["--configfile", "bad_features.yaml"],
            "ValueError: experiment 'faces' in the workflow config: its overrides "
            "['experiment=faces_softmax', 'dataset.features=edges'] give an invalid value: "
            "config key 'dataset.features': got 'edges', expected feature kinds joined by '+' "
            "(registered: hog, kmeans, lbp, pixels; e.g. hog+kmeans), each once",
        ),
        (
            "a HOG layout whose blocks do not fit",
            ["--configfile", "bad_hog.yaml"],
            "workflow config key faces.hog: HOG block_size 3 is larger than the 2 cells across "
            "the image",
        ),
        (
            "a k-means pooling grid finer than the patch positions",
            ["--configfile", "bad_kmeans.yaml"],
            "workflow config key faces.kmeans: pool_grid 42 is finer than the 41 patch positions "
            "across the image (patch_size 8, stride 1)",
        ),
    ],
)
def test_bad_workflow_config_fails_before_any_job(tmp_path, what, args, expected):
    (tmp_path / "data/dom").mkdir(parents=True)
    (tmp_path / "data/dom/positive.review").write_text(cases.GOOD_POSITIVE)
    (tmp_path / "bad_experiment.yaml").write_text(
        yaml.safe_dump({"experiments": [{"name": "clouds", "overrides": ["experiment=nope"]}]})
    )
    (tmp_path / "bad_features.yaml").write_text(
        yaml.safe_dump(
            {
                "experiments": [
                    {
                        "name": "faces",
                        "overrides": ["experiment=faces_softmax", "dataset.features=edges"],
                    }
                ]
            }
        )
    )
    (tmp_path / "bad_hog.yaml").write_text(
        yaml.safe_dump({"faces": {"hog": {"cell_size": 24, "block_size": 3}}})
    )
    (tmp_path / "bad_kmeans.yaml").write_text(
        yaml.safe_dump({"faces": {"kmeans": {"patch_size": 8, "pool_grid": 42}}})
    )
    result = snakemake(tmp_path, "-n", *args)
    assert result.returncode == 1
    shown = _snakemake_error(result)
    assert shown == expected
    if "(schema)" in what:
        # The error, where it was raised, Snakemake's notes: no schema, no config dump.
        assert len((result.stdout + result.stderr).strip().splitlines()) < 10
    assert not (tmp_path / "results").exists()
    shell_args = " ".join(shlex.quote(a) for a in args)
    record("Workflow config", what, f"snakemake -n {shell_args}", shown)


HOSTILE = "data/$(touch PWNED) a;b`id`"


@pytest.fixture
def hostile_workdir(tmp_path):
    """Input paths and an override full of shell syntax, in a workflow folder."""
    for name, text in (("positive", cases.GOOD_POSITIVE), ("negative", cases.GOOD_NEGATIVE)):
        path = tmp_path / HOSTILE / "dom" / f"{name}.review"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / HOSTILE / "fer.csv").write_text("\n".join(cases.fer_lines()) + "\n")
    run_name = "'a $(touch PWNED); b'"  # Hydra-quoted, so it composes
    (tmp_path / "hostile.yaml").write_text(
        yaml.safe_dump(
            {
                "reviews_dir": HOSTILE,
                "reviews_name": "hostile",
                "review_domains": ["dom"],
                "fer2013_path": f"{HOSTILE}/fer.csv",
                "fer2013_name": "hostile",
                "experiments": [
                    {
                        "name": "clouds",
                        "overrides": [
                            "experiment=gaussian_clouds",
                            f"tracking.run_name={run_name}",
                        ],
                    }
                ],
            }
        )
    )
    return tmp_path


def test_config_values_reach_the_shell_quoted(hostile_workdir):
    result = snakemake(
        hostile_workdir,
        "results/data/reviews/hostile/dom/reviews.parquet",
        "results/data/faces/hostile/hog",
        "results/runs/clouds/generated/metrics.json",
        "-n",
        "-p",
        "--configfile",
        "hostile.yaml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    commands = {}
    for line in result.stdout.splitlines():
        if line.startswith("Shell command: "):
            argv = shlex.split(line.removeprefix("Shell command: "))  # as sh would split it
            commands.setdefault(argv[2], []).append(argv)
    parse, faces, train = (
        commands[m] for m in ("logreg.data.reviews", "logreg.data.faces", "logreg.train")
    )
    assert any(f"{HOSTILE}/dom/positive.review" in argv for argv in parse)
    assert any(f"{HOSTILE}/fer.csv" in argv for argv in faces)  # parse_faces reads it
    assert "tracking.run_name='a $(touch PWNED); b'" in train[0]
    assert not (hostile_workdir / "PWNED").exists()


@pytest.mark.slow
def test_a_hostile_reviews_dir_is_parsed_not_executed(hostile_workdir):
    result = snakemake(
        hostile_workdir,
        "results/data/reviews/hostile/dom/reviews.parquet",
        "--configfile",
        "hostile.yaml",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (hostile_workdir / "results/data/reviews/hostile/dom/reviews.parquet").is_file()
    assert not (hostile_workdir / "PWNED").exists()
