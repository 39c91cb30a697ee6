# `snakemake --report results/report.html`: the summary and every run's figures (declared
# as report outputs of the rules that make them, in train.smk), under this front page.


report: "../report/workflow.rst"
