# Training: one Hydra run of `python -m logreg.train` per planned run (common.smk: every
# experiment of the config expanded over the data it names), its run folder =
# results/runs/<experiment>/<dataset>, tracked in MLflow; then the summary of this data
# (full and short tables, forest plot, its MLflow run; it prints the links to open).


rule tracking_store:
    # Create the MLflow store (and its schema) once, before parallel training jobs race
    # to migrate it (MLflow #6490).
    output:
        ready=f"{RESULTS}/.tracking_store",
    params:
        uri=TRACKING_URI,
    log:
        f"{LOGS}/tracking_store.log",
    shell:
        "python -m logreg.experiment.tracking --init {params.uri:q}"
        " --marker {output.ready:q} 2> {log:q}"


rule train:
    input:
        data=get_train_data,
        store=rules.tracking_store.output.ready,
    output:
        metrics=f"{RESULTS}/runs/{{experiment}}/{{dataset}}/metrics.json",
        figures=report(
            directory(f"{RESULTS}/runs/{{experiment}}/{{dataset}}/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Runs",
            subcategory="{experiment} {dataset}",
        ),
    priority: get_train_priority
    params:
        overrides=get_train_overrides,
        run_dir=get_run_dir_override,
        config=get_train_config_digest,
        code=CODE["train"],
    log:
        f"{LOGS}/train/{{experiment}}/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{experiment}}/{{dataset}}.tsv"
    shell:
        "python -m logreg.train {params.overrides:q} {params.run_dir:q}"
        " hydra.output_subdir=.hydra > {log:q} 2>&1"


rule summary:
    # The answer: every run in one table, a short one, and the forest plot of their
    # accuracies; logged as the MLflow run `summary <data>` (experiment `summary`).
    input:
        metrics=[f"{run_dir}/metrics.json" for run_dir in RUN_DIRS],
        store=rules.tracking_store.output.ready,
    output:
        summary=report(SUMMARY, caption="../report/summary.rst", category="Summary"),
        short=SUMMARY.removesuffix(".csv") + ".short.csv",
        picture=report(
            SUMMARY.removesuffix(".csv") + ".png",
            caption="../report/forest.rst",
            category="Summary",
        ),
    params:
        uri=TRACKING_URI,
        code=CODE["summary"],
    log:
        f"{LOGS}/summary.log",
    shell:
        "python -m logreg.experiment.summary --out {output.summary:q}"
        " --tracking-uri {params.uri:q} {input.metrics:q} > {log:q} 2>&1"


onsuccess:
    # Where the answer is, last on the screen of a run that did something.
    print(logged_answer(f"{LOGS}/summary.log"), end="")
