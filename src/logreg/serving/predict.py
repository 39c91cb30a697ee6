"""Predict with a tracked model from the command line.

    python -m logreg.predict results/runs/reviews/demo/electronics "Great sound, easy to set up."
    python -m logreg.predict <run-id | model URI> --tracking-uri sqlite:///x/mlflow.db "0 12 ..."
    python -m logreg.predict results/runs/faces_softmax/demo --print-model-uri

Each argument is one input: review text for review models, a FER2013 pixel string for
face models. Prints one line per input: the label and the class probabilities.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from logreg.cli import run_cli
from logreg.errors import UserError
from logreg.serving import artifact_store

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
DEFAULT_TRACKING_URI = "sqlite:///results/mlflow.db"


def read_run_folder(folder: Path) -> tuple[str, str]:
    """``(model URI, tracking URI)`` of the run whose folder (``metrics.json``,
    ``config.yaml``) is ``folder``; a sqlite store of its results folder is found from the
    folder, wherever that results folder was moved to."""
    import yaml

    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UserError(f"not a finished run folder: {exc}", where=folder) from exc
    if not metrics.get("model_uri"):
        raise UserError("the run logged no model (it ran with tracking=none)", where=folder)
    tracking_uri = artifact_store.store_of_run_folder(
        folder, config["tracking"]["uri"], (config.get("paths") or {}).get("results_dir")
    )
    return metrics["model_uri"], tracking_uri


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
    parser.add_argument(
        "model",
        help="a run folder (results/runs/...), an MLflow run id or a model URI (models:/...)",
    )
    parser.add_argument("inputs", nargs="*", help="review texts or FER2013 pixel strings")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="the tracking store holding the run (default: the run folder's, "
        "else sqlite:///results/mlflow.db)",
    )
    parser.add_argument(
        "--print-model-uri",
        action="store_true",
        help="print the model's URI (for `mlflow models serve -m`) and exit",
    )
    # Intermixed: inputs may come after options (argparse stops a '*' positional there).
    args = parser.parse_intermixed_args(argv)
    tracking_uri = args.tracking_uri or DEFAULT_TRACKING_URI
    if Path(args.model).is_dir():
        uri, folder_tracking_uri = read_run_folder(Path(args.model))
        tracking_uri = args.tracking_uri or folder_tracking_uri
    if (database := artifact_store.missing_store(tracking_uri)) is not None:
        # MLflow would create an empty store there and then not find the run.
        raise UserError(
            f"no tracking store at {database}: give the store's --tracking-uri",
            where=tracking_uri,
        )
    if not Path(args.model).is_dir():
        uri = resolve_model_uri(args.model, tracking_uri)
    if args.print_model_uri:
        print(uri)
        return
    if not args.inputs:
        parser.error("give at least one input to predict")

    import mlflow
    import pandas as pd

    artifact_store.register()
    mlflow.set_tracking_uri(tracking_uri)
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
