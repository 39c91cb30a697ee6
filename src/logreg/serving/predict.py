"""Predict with a tracked model from the command line.

    python -m logreg.predict <run-id | model URI> "Great sound, easy to set up."
    python -m logreg.predict <run-id> --tracking-uri sqlite:///results/mlflow.db "0 12 ..."

Each argument is one input: review text for review models, a FER2013 pixel string for
face models. Prints one line per input: the label and the class probabilities.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from logreg.cli import run_cli
from logreg.errors import UserError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def resolve_model_uri(ref: str, tracking_uri: str) -> str:
    """A model URI as given, or the one a run recorded in its ``model_uri`` tag."""
    if ":/" in ref:
        return ref
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        run = MlflowClient(tracking_uri=tracking_uri).get_run(ref)
    except MlflowException as exc:
        raise UserError(
            f"no run '{ref}' in the tracking store: {exc.message}", where=tracking_uri
        ) from exc
    if "model_uri" not in run.data.tags:
        raise UserError(f"run '{ref}' has no logged model (tag model_uri)", where=tracking_uri)
    return run.data.tags["model_uri"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m logreg.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="an MLflow run id or a model URI (models:/..., runs:/...)")
    parser.add_argument("inputs", nargs="+", help="review texts or FER2013 pixel strings")
    parser.add_argument(
        "--tracking-uri",
        default="sqlite:///results/mlflow.db",
        help="the tracking store holding the run (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(args.tracking_uri)
    uri = resolve_model_uri(args.model, args.tracking_uri)
    model = mlflow.pyfunc.load_model(uri)
    columns = [c.name for c in model.metadata.get_input_schema().inputs]
    if len(columns) != 1:
        raise UserError(
            f"model {uri} takes columns {columns}; this command feeds one "
            "text column (review or face models)"
        )
    result = model.predict(pd.DataFrame({columns[0]: args.inputs}))
    for (_, row), given in zip(result.iterrows(), args.inputs):
        probabilities = "  ".join(
            f"{name[len('proba_') :]}={row[name]:.3f}"
            for name in result.columns
            if name.startswith("proba_")
        )
        preview = given if len(given) <= 60 else given[:57] + "..."
        print(f"{row['label']}\t{probabilities}\t{preview}")


if __name__ == "__main__":
    run_cli(main)
