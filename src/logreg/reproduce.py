"""``python -m logreg.reproduce RUN``: rerun a run from its record; is it the same, bit for bit?

A thin entry point: see :mod:`logreg.experiment.reproduce`.
"""

from logreg.cli import run_cli
from logreg.experiment.reproduce import main

if __name__ == "__main__":
    run_cli(main)
