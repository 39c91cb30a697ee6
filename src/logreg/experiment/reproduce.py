"""Rerun a run from its record and say whether it came out the same, bit for bit.

``python -m logreg.reproduce RUN`` takes a run folder (``results/runs/...``,
``results/cli-runs/...``, a sweep job's folder) or an MLflow run id (its artifacts, which
hold the run folder's files, are downloaded from ``--tracking-uri``). It

1. checks the record against now: the sha256 of the raw data files and of the prepared
   files the run read, the git commit and uncommitted changes (``provenance.json``,
   :mod:`logreg.experiment.record`; for an MLflow run without it, the run's tags). On a
   mismatch it refuses in one line naming what differs (exit 2); ``--force`` reruns anyway
   and reports it;
2. reruns the run from its resolved ``config.yaml`` (seed included) with
   :func:`logreg.experiment.run.train`, on the recorded number of BLAS threads, tracking
   off, into a scratch folder (removed afterwards; ``--out DIR`` keeps it): the original
   folder and the store are only read;
3. compares the rerun with the record (:mod:`logreg.experiment.run_diff`): exit 0 and
   "identical", or exit 1 and a table of what differs.

Relative paths in the record (data, prepared folders) are read from the current folder:
run it where the run ran (the clone's root for the workflow and the README's commands).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from threadpoolctl import threadpool_limits

from logreg.data.faces.folders import folder_digest
from logreg.errors import DataError, UserError
from logreg.experiment import run_diff
from logreg.experiment.config import TrainConfig
from logreg.experiment.record import PROVENANCE, blas
from logreg.fileio import sha256_file
from logreg.provenance import git_diff_sha256, git_state, package_versions

RUN_ID = re.compile(r"[0-9a-f]{32}")


class RecordMismatch(UserError):
    """The data or the code differs from what the run recorded."""


@dataclass
class Record:
    """What a run left behind: its files, config, provenance and metrics.

    ``folder`` holds the run's files (the run folder, or its downloaded MLflow artifacts);
    ``provenance`` is ``provenance.json`` or, for an MLflow run without it, read from its
    tags (``data_sha256.<file name>`` and no hash of the prepared files).
    """

    label: str
    folder: Path
    config: DictConfig
    provenance: dict | None
    metrics: dict
    from_mlflow: bool = False
    tag_hashes: dict[str, str] = field(default_factory=dict)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", where=path, line=exc.lineno) from None


def _config(folder: Path, label: str) -> DictConfig:
    path = folder / "config.yaml"
    if not path.is_file():
        raise DataError(
            "not a run folder (no config.yaml); a sweep's runs are its numbered sub-folders",
            where=label,
        )
    return OmegaConf.load(path)


def load_folder(folder: Path) -> Record:
    config = _config(folder, str(folder))
    if not (folder / "metrics.json").is_file():
        raise DataError(
            "not a complete run (no metrics.json): it failed or still runs", where=folder
        )
    provenance = folder / PROVENANCE
    return Record(
        label=str(folder),
        folder=folder,
        config=config,
        provenance=_read_json(provenance) if provenance.is_file() else None,
        metrics=_read_json(folder / "metrics.json"),
    )


def load_mlflow_run(run_id: str, uri: str, scratch: Path) -> Record:
    """The run's artifacts downloaded into ``scratch``; its metrics and tags read. Only reads."""
    # A few files: MLflow's per-file progress bar would only clutter the verdict.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from logreg.serving import artifact_store

    if artifact_store.missing_store(uri) is not None:
        # MLflow would create an empty store there.
        raise DataError("no tracking store here; give --tracking-uri", where=uri)
    artifact_store.register()  # the store names artifacts by mlflow-artifacts:/ URIs
    client = MlflowClient(tracking_uri=uri)
    try:
        run = client.get_run(run_id)
        folder = Path(client.download_artifacts(run_id, "", str(scratch)))
    except (MlflowException, OSError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"cannot read MLflow run {run_id}: {first_line[:300]}", where=uri) from None
    label = f"MLflow run {run_id}"
    tags = run.data.tags
    provenance = folder / PROVENANCE
    if provenance.is_file():
        recorded = _read_json(provenance)
    else:
        recorded = {k: tags[k] for k in ("git_commit", "git_dirty") if k in tags}
    prefix = "data_sha256."
    return Record(
        label=label,
        folder=folder,
        config=_config(folder, label),
        provenance=recorded,
        metrics=dict(run.data.metrics),
        from_mlflow=True,
        tag_hashes={k[len(prefix) :]: v for k, v in tags.items() if k.startswith(prefix)},
    )


# -- the record against now ------------------------------------------------------------
def _sha256_now(path: Path) -> str | None:
    """The sha256 the data stage would record for ``path`` today; None if it is gone."""
    if path.is_dir():
        try:
            return folder_digest(path)
        except DataError:
            return None
    return sha256_file(path) if path.is_file() else None


def _source_files(record: Record, cfg: DictConfig) -> dict[str, str]:
    """Raw file path -> recorded sha256. Tags name files only: their paths are looked up
    in the prepared folder's ``meta.json``."""
    if record.provenance is not None and "source_files" in record.provenance:
        return dict(record.provenance["source_files"])
    meta_file = Path(cfg.dataset.path) / "meta.json" if cfg.dataset.path else None
    known = (
        _read_json(meta_file).get("source_files", {}) if meta_file and meta_file.is_file() else {}
    )
    paths = {Path(p).name: p for p in known}
    return {paths.get(name, name): digest for name, digest in record.tag_hashes.items()}


def data_mismatches(record: Record, cfg: DictConfig) -> list[str]:
    """One phrase per raw or prepared file whose sha256 is not the recorded one."""
    found = []
    for kind, files in (
        ("data file", _source_files(record, cfg)),
        ("prepared file", (record.provenance or {}).get("data_files", {})),
    ):
        for path, recorded in files.items():
            now = _sha256_now(Path(path))
            if now is None and not Path(path).is_absolute():
                now = "missing here (paths are relative to the folder the run ran in)"
            if now != recorded:
                found.append(f"{kind} {path}: recorded sha256 {recorded}, now {now or 'missing'}")
    return found


def _tree(dirty: str | None) -> str:
    return {"true": "a dirty tree", "false": "a clean tree"}.get(str(dirty), "no git state")


def code_mismatches(provenance: dict) -> list[str]:
    """One phrase per difference of commit, dirty flag or uncommitted changes."""
    now = git_state()
    commit = provenance.get("git_commit", "unknown")
    if commit == "unknown":
        return ["git commit: not recorded"]
    found = []
    if commit != now["git_commit"]:
        found.append(f"git commit: recorded {commit}, now {now['git_commit']}")
    dirty = provenance.get("git_dirty")
    if dirty != now["git_dirty"]:
        found.append(f"uncommitted changes: recorded {_tree(dirty)}, now {_tree(now['git_dirty'])}")
    elif dirty == "true":
        recorded, diff = provenance.get("git_diff_sha256"), git_diff_sha256()
        if recorded is None:
            found.append("uncommitted changes: recorded a dirty tree, but not its changes")
        elif recorded != diff:
            found.append(f"uncommitted changes: recorded diff sha256 {recorded}, now {diff}")
    return found


def check_record(record: Record, cfg: DictConfig) -> tuple[list[str], list[str]]:
    """``(mismatches, notes)``: what refuses the rerun, and what is only worth knowing."""
    if record.provenance is None:
        mismatches = [f"no {PROVENANCE}: the run's commit and data were not recorded"]
    else:
        mismatches = code_mismatches(record.provenance) + data_mismatches(record, cfg)
    notes = []
    if record.provenance is not None and "data_files" not in record.provenance:
        notes.append("the prepared files were not recorded: only the raw data files were checked")
    recorded = record.provenance or {}
    versions = recorded.get("versions", {})
    for name, now in package_versions().items():
        if name in versions and versions[name] != now:
            notes.append(f"{name} {versions[name]} recorded, {now} now")
    libraries, _ = blas()
    if "blas" in recorded and recorded["blas"] != libraries:
        notes.append(f"BLAS {', '.join(recorded['blas'])} recorded, {', '.join(libraries)} now")
    if "blas_threads" not in recorded:
        notes.append("the BLAS threads were not recorded: the rerun uses this machine's default")
    return mismatches, notes


# -- rerun and compare -------------------------------------------------------------------
def rerun_config(record: Record) -> DictConfig:
    """The recorded config on the typed schema, tracking and progress bars off."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), record.config)
    except OmegaConfBaseException as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise DataError(
            f"config.yaml key {exc.full_key}: {first_line} (recorded by another version?)",
            where=record.label,
        ) from None
    cfg.tracking.enabled = False
    cfg.progress = False
    return cfg


def compare(record: Record, rerun_folder: Path, row: dict) -> run_diff.Comparison:
    result = run_diff.Comparison()
    run_diff.compare_model(record.folder, rerun_folder, result)
    run_diff.compare_tables(record.folder, rerun_folder, result)
    run_diff.compare_metrics(record.metrics, row, result, numbers_only=record.from_mlflow)
    return result


def _out_dir(out: str, record: Record) -> Path:
    path = Path(out)
    if (
        path.resolve() == record.folder.resolve()
        or record.folder.resolve() in path.resolve().parents
    ):
        raise UserError(f"--out {out}: inside the run being reproduced; give a new folder")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--out {out}: exists and is not an empty folder; give a new one")
    return path


def reproduce(ref: str, tracking_uri: str, out: str | None, force: bool) -> int:
    """Check, rerun and compare the run ``ref``; print the verdict; return the exit status."""
    from logreg.experiment.run import train  # imports the whole training stack

    with contextlib.ExitStack() as cleanup:

        def scratch(prefix: str) -> Path:
            path = Path(tempfile.mkdtemp(prefix=prefix))
            cleanup.callback(shutil.rmtree, path, ignore_errors=True)
            return path

        if Path(ref).is_dir():
            record = load_folder(Path(ref))
        elif RUN_ID.fullmatch(ref):
            record = load_mlflow_run(ref, tracking_uri, scratch("logreg-reproduce-record-"))
        else:
            raise DataError("no such run folder, nor an MLflow run id (32 hex digits)", where=ref)
        rerun_folder = _out_dir(out, record) if out else scratch("logreg-reproduce-")
        cfg = rerun_config(record)
        mismatches, notes = check_record(record, cfg)
        if mismatches and not force:
            raise RecordMismatch(
                f"the record differs from now: {'; '.join(mismatches)}; --force reruns it anyway",
                where=record.label,
            )
        for line in mismatches:
            print(f"warning: {line} (rerun anyway: --force)", file=sys.stderr)
        # The recorded number of BLAS threads: dense products then sum in the same order.
        threads = (record.provenance or {}).get("blas_threads")
        with threadpool_limits(limits=threads, user_api="blas"):
            row = train(cfg, rerun_folder)
        result = compare(record, rerun_folder, row)
    print(report(record, cfg, result, mismatches, notes, out))
    return 0 if result.identical else 1


def report(
    record: Record,
    cfg: DictConfig,
    result: run_diff.Comparison,
    mismatches: list[str],
    notes: list[str],
    out: str | None,
) -> str:
    """The verdict: identical or not, what was compared, and the table of differences."""
    commit = (record.provenance or {}).get("git_commit", "unknown")
    lines = [
        ("identical" if result.identical else "differs")
        + f": {record.label} rerun from its record (config.yaml, seed {cfg.seed}, "
        f"commit {commit[:12]})",
        f"compared bit for bit: {', '.join(result.compared)}",
        "not compared: metrics.json "
        f"{', '.join(run_diff.EXCLUDED_METRICS)} ({', '.join(result.excluded) or 'none here'}); "
        "figures/ (drawn from the tables)",
    ]
    lines += [f"record mismatch (--force): {m}" for m in mismatches]
    lines += [f"note: {n}" for n in notes]
    if out:
        lines.append(f"rerun kept in {out}")
    if not result.identical:
        lines += ["", result.table()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m logreg.reproduce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="run folder or MLflow run id")
    parser.add_argument(
        "--tracking-uri",
        default="sqlite:///results/mlflow.db",
        help="the store of an MLflow run id (default: %(default)s)",
    )
    parser.add_argument("--out", metavar="DIR", help="keep the rerun in DIR (a new folder)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="rerun even when the data or the code differ from the record",
    )
    args = parser.parse_args(argv)
    status = reproduce(args.run, args.tracking_uri, args.out, args.force)
    if status:
        sys.exit(status)
