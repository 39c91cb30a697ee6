"""``python -m logreg.predict``: predict with a tracked model.

A thin entry point: see :mod:`logreg.serving.predict`.
"""

from logreg.cli import run_cli
from logreg.serving.predict import main

if __name__ == "__main__":
    run_cli(main)
