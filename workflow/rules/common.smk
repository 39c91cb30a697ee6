# Helpers shared by the rule files: paths derived from the validated config.

import os
import re
import sys

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
DOMAINS = config["review_domains"]

# The interpreter running Snakemake (the project's venv) runs every step, whatever the PATH.
PYTHON = sys.executable
