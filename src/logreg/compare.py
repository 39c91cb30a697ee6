"""``python -m logreg.compare RUN_A RUN_B``: do two runs differ beyond noise?

A thin entry point: see :mod:`logreg.experiment.compare`.
"""

from logreg.cli import run_cli
from logreg.experiment.compare import main

if __name__ == "__main__":
    run_cli(main)
