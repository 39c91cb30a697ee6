# Helpers shared by the rule files: paths derived from the validated config.

import os
import re

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
DOMAINS = config["review_domains"]
