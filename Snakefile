# Reproducible linear classifiers on reviews (text) and FER2013 faces (images).
#
#   snakemake --cores 2                                             # demo data (generated)
#   snakemake --cores 2 --configfile conf/workflow/real.yaml       # the real datasets
#   snakemake --cores 2 --config reviews_dir=/data/reviews review_domains=auto
#
# Every key of conf/workflow/config.yaml is documented in workflow/schemas/config.schema.yaml.

import os

from snakemake.utils import min_version

from logreg.experiment.workflow_config import check_workflow_config

min_version("9.0")


configfile: os.path.join(workflow.basedir, "conf", "workflow", "config.yaml")


# The schema check of snakemake.utils.validate (defaults filled in), but a mistake is one
# line (key, value, what is allowed) instead of the schema and the whole config.
check_workflow_config(
    config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
)


include: "workflow/rules/common.smk"


# One folder level per wildcard; experiments and datasets are those of the planned runs.
wildcard_constraints:
    domain="[A-Za-z0-9_&.-]+",  # the schema's pattern: one folder level
    # Any spec of registered kinds (e.g. hog+kmeans), so a user can ask for a prepared folder
    # no experiment uses; never "images" (parse_faces' folder beside them).
    features="(?:{0})(?:\\+(?:{0}))*".format("|".join(map(re.escape, registry()))),
    experiment="|".join(map(re.escape, {e for e, _ in RUNS})) or "$^",
    dataset="|".join(map(re.escape, {d for _, d in RUNS})) or "$^",


include: "workflow/rules/reviews.smk"
include: "workflow/rules/faces.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


# Under a cluster profile these run on the submit host: each takes under a second.
localrules:
    all,
    summary,
    tracking_store,


rule all:
    input:
        summary=SUMMARY,
        figures=[f"{run_dir}/figures" for run_dir in RUN_DIRS],
