"""Where a results folder's artifacts live: ``mlflow-artifacts:/`` URIs, resolved per store.

A results folder is one movable unit: ``mlflow.db`` (the sqlite tracking store), the
``artifacts/`` folder beside it and the run folders. So the store names no artifact by an
absolute path: its experiments keep their artifacts at MLflow's proxied root,
``mlflow-artifacts:/``, and runs and logged models under it
(``mlflow-artifacts:/<run id>/artifacts``, ``mlflow-artifacts:/models/<model id>/artifacts``).

Who resolves such a URI:

* ``mlflow server --serve-artifacts --artifacts-destination <results>/artifacts`` (``make
  ui``): MLflow's own proxy, for the UI and for clients of that server;
* a process that opens the sqlite store directly (training, ``logreg.predict``,
  ``logreg.compare``, any MLflow client with a ``sqlite:///`` tracking URI): MLflow's own
  repository for the scheme only talks HTTP to a server, so :func:`artifact_repository`
  takes its place. With a ``sqlite:///.../mlflow.db`` tracking URI it reads and writes the
  folder ``.../artifacts`` beside that database, wherever it now is; with any other tracking
  URI (a server) it hands over to MLflow's repository unchanged.

The project registers it in its own processes (:func:`register`) and, for every other
process of the environment (``mlflow models serve``, a notebook), as an
``mlflow.artifact_repository`` entry point in ``pyproject.toml``. This module imports MLflow
lazily: MLflow loads the entry point while it imports its own artifact registry.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

SCHEME = "mlflow-artifacts"
# The artifact root of every experiment a sqlite store of ours creates.
PROXIED_ROOT = f"{SCHEME}:/"
ARTIFACTS_FOLDER = "artifacts"


def sqlite_file(uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working folder when the
    URI is), None for any other store."""
    if not uri or not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(unquote(path)) if path else None


def missing_store(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI when there is none (opening it would
    create an empty store), else None."""
    database = sqlite_file(uri)
    return database if database is not None and not database.is_file() else None


def store_of_run_folder(folder: Path, tracking_uri: str, results_dir: str | None) -> str:
    """The tracking URI of the run whose folder is ``folder``, as configured
    (``tracking.uri``, ``paths.results_dir`` of its ``config.yaml``), after a move.

    A sqlite store inside the run's results folder (the default,
    ``sqlite:///<results_dir>/mlflow.db``) is looked up from the run folder: the nearest
    folder above it that holds the database at the same place, wherever the results folder
    now is and whatever the working folder. Any other store is returned as configured.
    """
    database = sqlite_file(tracking_uri)
    if database is None or not results_dir:
        return tracking_uri
    try:
        inside = Path(os.path.normpath(database)).relative_to(os.path.normpath(results_dir))
    except ValueError:  # a store outside the results folder did not move with it
        return tracking_uri
    for parent in folder.absolute().parents:
        if (parent / inside).is_file():
            return f"sqlite:///{parent / inside}"
    return tracking_uri


def artifacts_folder(database: Path) -> Path:
    """The folder that holds the artifacts of the sqlite store ``database``: beside it."""
    return database.parent / ARTIFACTS_FOLDER


def artifact_repository(
    artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
):
    """The artifact repository of an ``mlflow-artifacts:`` URI (MLflow's factory signature).

    With a sqlite tracking URI (the one given, else the one this process set): the local
    folder ``<database folder>/artifacts/<path of the URI>``. Otherwise, or when the URI
    names a server (``mlflow-artifacts://host:port/...``), MLflow's proxy client, which also
    explains that no tracking URI is set.
    """
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
    from mlflow.tracking._tracking_service.utils import get_tracking_uri, is_tracking_uri_set

    if not tracking_uri and is_tracking_uri_set():
        tracking_uri = get_tracking_uri()
    parsed = urlparse(artifact_uri)
    database = sqlite_file(tracking_uri)
    if database is None or parsed.netloc:
        return MlflowArtifactsRepository(
            artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
    parts = [p for p in unquote(parsed.path).split("/") if p]
    if ".." in parts:
        from mlflow.exceptions import MlflowException

        raise MlflowException(f"artifact URI {artifact_uri!r} leaves the artifact folder")
    folder = artifacts_folder(database.resolve()).joinpath(*parts)
    return LocalArtifactRepository(
        folder.as_uri(), tracking_uri=tracking_uri, registry_uri=registry_uri
    )


def register() -> None:
    """Resolve ``mlflow-artifacts:`` URIs with :func:`artifact_repository` in this process.

    The entry point does the same when the package is installed; this covers a source
    checkout on ``PYTHONPATH`` too. Idempotent.
    """
    from mlflow.store.artifact import artifact_repository_registry

    # MLflow has no public call for this; the entry point (its public plugin mechanism)
    # fills the same registry.
    artifact_repository_registry._artifact_repository_registry.register(SCHEME, artifact_repository)
