"""The commands of the README's "Running on a cluster", exactly as a user types them.

tests/cluster/test_cluster.py runs these strings (in bash, from a checkout with the
project's virtual environment first on PATH); the README quotes them. Change both together.
"""

# Test machine only: a throw-away single-node SLURM (a real site has its cluster).
CLUSTER_UP = 'eval "$(tests/cluster/slurm.sh up)"'
CLUSTER_DOWN = "tests/cluster/slurm.sh down"
# On the server host, with the settings of scripts/tracking_server.sh in the environment.
SERVER = "make server"
# On the submit host, with MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME and
# MLFLOW_TRACKING_PASSWORD exported.
WORKFLOW = (
    'snakemake --profile workflow/profiles/slurm --config tracking_uri="$MLFLOW_TRACKING_URI"'
)
SWEEP = (
    "python -m logreg.train -m experiment=gaussian_clouds penalty=none,l2 "
    'hydra/launcher=submitit_slurm tracking.uri="$MLFLOW_TRACKING_URI"'
)
# The same workflow on one machine, for comparison.
LOCAL_WORKFLOW = "snakemake --cores 2"
