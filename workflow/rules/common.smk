# Helpers shared by the rule files: paths derived from the validated config.

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
DOMAINS = config["review_domains"]
