# Training: one Hydra run of `python -m logreg.train` per experiment in config["experiments"],
# its run folder = this rule's output folder, tracked in MLflow.

from hydra.errors import HydraException

from logreg.experiment.config import check_config, compose
from logreg.errors import ConfigError

EXPERIMENTS = {e["name"]: e["overrides"] for e in config["experiments"]}


wildcard_constraints:
    experiment="|".join(map(re.escape, EXPERIMENTS)) if EXPERIMENTS else "$^",


def get_overrides(wildcards):
    """The experiment's own overrides plus the paths and provenance the workflow owns."""
    return [
        *EXPERIMENTS[wildcards.experiment],
        f"experiment_name={wildcards.experiment}",
        f"paths.results_dir={RESULTS}",
        f"tracking.uri={config['tracking_uri']}",
        f"source=snakemake:train:{wildcards.experiment}",
    ]


def get_train_data(wildcards):
    """The prepared dataset folder the experiment trains on (none for generated data)."""
    where = (f"experiment '{wildcards.experiment}' in the workflow config: its overrides "
             f"{EXPERIMENTS[wildcards.experiment]}")
    try:
        cfg = compose(get_overrides(wildcards))
    except HydraException as exc:
        raise ValueError(f"{where} do not compose: {exc}") from None
    try:
        # Before planning: a bad value (e.g. dataset.features) names its key here, instead
        # of asking for a file no rule makes.
        check_config(cfg)
    except ConfigError as exc:
        raise ValueError(f"{where} give an invalid value: {exc}") from None
    return [] if cfg.dataset.kind == "gaussian_clouds" else [cfg.dataset.path]


def get_run_dir(wildcards):
    return f"{RESULTS}/runs/{wildcards.experiment}"


rule tracking_store:
    # Create the MLflow store (and its schema) once, before parallel training jobs race
    # to migrate it (MLflow #6490).
    output:
        ready=f"{RESULTS}/.tracking_store",
    params:
        uri=config["tracking_uri"],
    log:
        f"{LOGS}/tracking_store.log",
    shell:
        "{PYTHON:q} -m logreg.experiment.tracking --init {params.uri:q} --marker {output.ready:q} 2> {log:q}"


rule train:
    input:
        data=get_train_data,
        store=rules.tracking_store.output.ready,
    output:
        metrics=f"{RESULTS}/runs/{{experiment}}/metrics.json",
    params:
        overrides=get_overrides,
        run_dir=get_run_dir,
    log:
        f"{LOGS}/train/{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{experiment}}.tsv"
    shell:
        "{PYTHON:q} -m logreg.train {params.overrides:q} hydra.run.dir={params.run_dir:q}"
        " hydra.output_subdir=.hydra > {log:q} 2>&1"


rule summary:
    input:
        expand(f"{RESULTS}/runs/{{experiment}}/metrics.json", experiment=EXPERIMENTS),
    output:
        report(f"{RESULTS}/summary.csv", caption="../report/summary.rst", category="Summary"),
    log:
        f"{LOGS}/summary.log",
    shell:
        "{PYTHON:q} -m logreg.experiment.summary --out {output:q} {input:q} 2> {log:q}"
