# The figures of every run, collected for `snakemake --report results/report.html`.


report: "../report/workflow.rst"


rule report_figures:
    input:
        metrics=f"{RESULTS}/runs/{{experiment}}/metrics.json",
    output:
        figures=report(
            directory(f"{RESULTS}/report/{{experiment}}"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Runs",
            subcategory="{experiment}",
        ),
    params:
        run_dir=get_run_dir,
    log:
        f"{LOGS}/report_figures/{{experiment}}.log",
    shell:
        "(mkdir -p {output.figures:q} && cp {params.run_dir:q}/*.png {output.figures:q}/) 2> {log:q}"
