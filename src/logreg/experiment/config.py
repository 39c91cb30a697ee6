"""Structured (dataclass) configs behind the YAML files in ``conf/``.

Hydra merges ``conf/train.yaml`` and its groups into :class:`TrainConfig`, so a wrong type
or an unknown key fails at start-up with Hydra's own message naming the key. Value ranges
that a type cannot express are checked by :func:`check_config`, which raises a
:class:`~logreg.errors.ConfigError` naming the config key.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from logreg.data.faces.features import check_features, kind_names
from logreg.errors import ConfigError
from logreg.linear.estimators import LogisticRegression, SoftmaxRegression
from logreg.linear.exceptions import InvalidParameterError

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"

DATASET_KINDS = ("reviews", "faces", "gaussian_clouds")
ESTIMATORS = {"logistic": LogisticRegression, "softmax": SoftmaxRegression}
THRESHOLDS = ("val_f1", "fixed")
EVALUATIONS = ("holdout", "cv")
SELECTIONS = ("fixed", "cv_path")
# The estimator owns its hyperparameters: the config's defaults are its defaults.
_ESTIMATOR_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(LogisticRegression.__init__).parameters.items()
}


@dataclass
class PathsConfig:
    results_dir: str = "results"


@dataclass
class DatasetConfig:
    """Where the examples come from.

    ``reviews``/``faces`` read a prepared dataset written by the workflow's data stage;
    ``gaussian_clouds`` draws the two-Gaussian-clouds problem from the seed.
    """

    kind: str = MISSING
    # The MLflow experiment the run belongs to (one per task, e.g. reviews_sentiment).
    task: str = MISSING
    # The data source (see logreg.data.sources): demo, generated, or the workflow's name.
    source: str = "demo"
    name: str = MISSING  # the dataset id: <source> or <source>/<domain>
    path: Optional[str] = None
    domain: Optional[str] = None
    classes: Optional[list[int]] = None  # keep only these class indices (binary experiments)
    # faces: registered kinds joined by '+' (pixels, hog, kmeans, hog+kmeans, ...): the
    # prepared folder <results_dir>/faces/<features>
    features: Optional[str] = None
    # A sparse split whose file is larger than this (MiB) is read from the file at each
    # pass instead of held in memory (same numbers; docs/scale.md). None: always held.
    stream_above_mb: Optional[float] = None
    n_samples: int = 2000  # gaussian_clouds: per split (train); val/test get half each
    mean0: list[float] = field(default_factory=lambda: [-2.0, -2.0])
    mean1: list[float] = field(default_factory=lambda: [2.0, 2.0])
    p1: float = 0.5


@dataclass
class ModelConfig:
    name: str = "logistic"
    fit_intercept: bool = _ESTIMATOR_DEFAULTS["fit_intercept"]
    class_weight: Optional[str] = _ESTIMATOR_DEFAULTS["class_weight"]
    # Binary only: "val_f1" picks the threshold maximizing F1 on the validation split;
    # "fixed" uses threshold_value (0.5 is the course's choice).
    threshold: str = "val_f1"
    threshold_value: float = 0.5


@dataclass
class OptimizerConfig:
    """The estimator's solver parameters, under the same names and defaults."""

    solver: str = _ESTIMATOR_DEFAULTS["solver"]
    lr: float = _ESTIMATOR_DEFAULTS["lr"]
    lr_schedule: str = _ESTIMATOR_DEFAULTS["lr_schedule"]
    decay: float = _ESTIMATOR_DEFAULTS["decay"]
    momentum: float = _ESTIMATOR_DEFAULTS["momentum"]
    batch_size: int = _ESTIMATOR_DEFAULTS["batch_size"]
    max_iter: int = _ESTIMATOR_DEFAULTS["max_iter"]
    tol: float = _ESTIMATOR_DEFAULTS["tol"]
    early_stopping: bool = _ESTIMATOR_DEFAULTS["early_stopping"]
    patience: int = _ESTIMATOR_DEFAULTS["patience"]
    precondition: str = _ESTIMATOR_DEFAULTS["precondition"]


@dataclass
class PenaltyConfig:
    """The estimator's penalty strengths ``l1`` and ``l2``."""

    l1: float = _ESTIMATOR_DEFAULTS["l1"]
    l2: float = _ESTIMATOR_DEFAULTS["l2"]


def data_label(cfg: DictConfig) -> str:
    """The data a run trains on: the dataset, and for faces its features (``demo/hog``):
    the same images as pixels or as HOG features are different data to a model."""
    name = str(cfg.dataset.name)
    return f"{name}/{cfg.dataset.features}" if cfg.dataset.kind == "faces" else name


def default_run_name(cfg: DictConfig, overrides: str = "") -> str:
    """``<experiment> <data>`` and the overrides that make this run differ; a run started
    by hand (``source: cli``) says so first: ``cli reviews demo/electronics penalty.l2=0.01``.
    """
    prefix = "cli" if cfg.source == "cli" else ""
    return " ".join(filter(None, [prefix, cfg.experiment_name, data_label(cfg), overrides]))


def applicable_params(cfg: DictConfig) -> dict[str, object]:
    """The run's parameters as flat ``group.key`` names, only those that apply to it.

    A review run does not log the Gaussian clouds' means, an L-BFGS run no learning
    rate: the MLflow compare view then shows what differs between runs.
    """
    from logreg.linear.solvers import LR_SOLVERS, resolve_solver

    container = OmegaConf.to_container(cfg, resolve=True)
    kind = cfg.dataset.kind
    solver = resolve_solver(cfg.optimizer.solver, cfg.penalty.l1)
    # stream_above_mb: where X lives, never what a run finds (logreg.linear.streamed).
    skip = {"paths", "tracking", "progress", "source", "dataset.stream_above_mb"}
    skip |= {
        f"dataset.{k}" for k in ("n_samples", "mean0", "mean1", "p1") if kind != "gaussian_clouds"
    }
    skip |= {"dataset.features", "dataset.classes"} if kind != "faces" else set()
    skip |= {"dataset.domain"} if kind != "reviews" else set()
    if cfg.evaluation.name != "cv":
        skip |= {f"evaluation.{k}" for k in ("n_splits", "n_repeats", "seed")}
    else:
        skip.add("evaluation.n_boot")
    if cfg.selection.name != "cv_path":
        skip |= {f"selection.{f.name}" for f in fields(SelectionConfig) if f.name != "name"}
    else:
        # Chosen along the path, not configured: the chosen value is logged as fit.<penalty>.
        skip.add(f"penalty.{path_penalty(cfg)}")
        if cfg.selection.scored_on != "cv":
            skip.add("selection.n_splits")
    skip |= {"dataset.path"} if kind == "gaussian_clouds" else set()
    if solver not in LR_SOLVERS:
        skip |= {f"optimizer.{k}" for k in ("lr", "lr_schedule", "decay", "momentum")}
    elif cfg.optimizer.lr_schedule == "constant":
        skip.add("optimizer.decay")
    if solver != "minibatch":
        skip.add("optimizer.batch_size")
    if solver != "lbfgs":
        skip.add("optimizer.precondition")
    if not cfg.optimizer.early_stopping:
        skip.add("optimizer.patience")
    if cfg.model.name != "logistic":
        skip |= {"model.threshold", "model.threshold_value"}
    elif cfg.model.threshold != "fixed":
        skip.add("model.threshold_value")

    flat: dict[str, object] = {}

    def walk(node: object, prefix: str) -> None:
        if prefix.rstrip(".") in skip:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(container, "")
    return flat


def penalty_name(penalty: PenaltyConfig | DictConfig) -> str:
    """none, l1, l2 or elasticnet, read off the strengths so a label can never disagree
    with the values (a sweep over ``penalty.l2`` from ``penalty=none`` is an L2 run)."""
    return {
        (False, False): "none",
        (True, False): "l1",
        (False, True): "l2",
        (True, True): "elasticnet",
    }[(penalty.l1 > 0, penalty.l2 > 0)]


@dataclass
class EvaluationConfig:
    """How the test metrics are estimated (``conf/evaluation/``).

    ``holdout``: the prepared test split, with a bootstrap CI (``n_boot`` resamples).
    ``cv``: repeated stratified k-fold over every labelled example, features fitted per
    fold; the mean, std and Nadeau-Bengio CI of each metric, per-fold values kept.
    """

    name: str = "holdout"
    n_splits: int = 5
    n_repeats: int = 2
    seed: int = 0
    confidence: float = 0.95
    n_boot: int = 2000


@dataclass
class SelectionConfig:
    """How the penalty is chosen (``conf/selection/``).

    ``fixed``: ``penalty.l1``/``penalty.l2`` as configured. ``cv_path``: along
    ``n_values`` log-spaced values, warm-started (extended past an end the choice lands
    on: ``extend_by`` values, ``max_extensions`` times at most), by inner ``n_splits``-fold
    CV on the training part (``scored_on: cv``) or on the validation split
    (``scored_on: val``, FER2013's PublicTest). The path varies ``l1`` when
    ``penalty.l1 > 0`` (from the smallest value zeroing every weight down ``l1_ratio``
    times), else ``l2`` (``high`` down to ``low``).
    """

    name: str = "fixed"
    scored_on: str = "cv"
    n_splits: int = 3
    n_values: int = 10
    high: float = 1.0e-2
    low: float = 1.0e-5
    l1_ratio: float = 1.0e-3
    one_se: bool = False
    # A choice at an end of the grid extends it past that end by extend_by values (same
    # spacing), at most max_extensions times; then the record says it stayed at the edge.
    max_extensions: int = 2
    extend_by: int = 3


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str = "sqlite:///results/mlflow.db"
    experiment: str = "logreg"
    run_name: Optional[str] = None
    parent_run_id: Optional[str] = None
    top_words: int = 25
    retries: int = 5


@dataclass
class TrainConfig:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    experiment_name: str = "default"
    seed: int = 0
    progress: Optional[bool] = None  # None: a progress bar only when stderr is a terminal
    # Provenance set by callers (Snakemake sets the rule; sweeps set theirs).
    source: str = "cli"


def register_configs() -> None:
    """Register the schema so ``conf/train.yaml`` can put it first in its defaults."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
    # conf/hydra/launcher/submitit_slurm.yaml sets a few keys of the submitit plugin's option
    # of the same name, which Hydra merges onto the plugin's schema: intended, not a migration.
    warnings.filterwarnings(
        "ignore", message=r"\s*'hydra/launcher/submitit_slurm' is validated against ConfigStore"
    )


# Estimator parameter -> the config key that sets it: the one mapping between the two.
PARAMETER_KEYS = {
    **{f.name: f"penalty.{f.name}" for f in fields(PenaltyConfig)},
    **{f.name: f"optimizer.{f.name}" for f in fields(OptimizerConfig)},
    "fit_intercept": "model.fit_intercept",
    "class_weight": "model.class_weight",
}


def cfg_get(cfg: DictConfig, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def _choice(cfg: DictConfig, key: str, allowed) -> None:
    value = cfg_get(cfg, key)
    if value not in allowed:
        raise ConfigError(key, f"got {value!r}, expected one of {', '.join(allowed)}")


def build_estimator(cfg: DictConfig, *, verbose: int = 0):
    """The estimator ``cfg`` describes, with the run's seed; its parameters unchecked."""
    _choice(cfg, "model.name", tuple(ESTIMATORS))
    params = {name: cfg_get(cfg, key) for name, key in PARAMETER_KEYS.items()}
    return ESTIMATORS[cfg.model.name](**params, random_state=cfg.seed, verbose=verbose)


def config_error(exc: InvalidParameterError) -> ConfigError:
    """The estimator's own message, naming the config key that set the parameter."""
    return ConfigError(PARAMETER_KEYS.get(exc.param, exc.param), str(exc))


def check_config(cfg: DictConfig) -> None:
    """Check what types cannot express; the estimator checks its own parameters.

    Raises
    ------
    ConfigError
        Naming the offending key, its value and what was expected.
    """
    if urlsplit(cfg.tracking.uri).password is not None:
        # The value is not repeated: the config is logged, and this message too.
        raise ConfigError(
            "tracking.uri",
            "holds a password (user:password@host); the config is logged as run params, so "
            "give them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead",
        )
    _choice(cfg, "dataset.kind", DATASET_KINDS)
    stream_above_mb = cfg.dataset.get("stream_above_mb")
    if stream_above_mb is not None and not stream_above_mb >= 0:
        raise ConfigError(
            "dataset.stream_above_mb", f"got {stream_above_mb}, expected MiB >= 0 or null"
        )
    _choice(cfg, "model.threshold", THRESHOLDS)
    try:
        build_estimator(cfg).validate_params()
    except InvalidParameterError as exc:
        raise config_error(exc) from None
    _choice(cfg, "evaluation.name", EVALUATIONS)
    _choice(cfg, "selection.name", SELECTIONS)
    _choice(cfg, "selection.scored_on", ("cv", "val"))
    if cfg.evaluation.name == "cv" and cfg.dataset.kind == "faces":
        raise ConfigError(
            "evaluation.name",
            "FER2013 keeps its official split (PublicTest for selection, PrivateTest for "
            "test): use evaluation=holdout (its test metrics get a bootstrap CI)",
        )
    for key, least in (("selection.max_extensions", 0), ("selection.extend_by", 1)):
        if cfg_get(cfg, key) < least:
            raise ConfigError(key, f"got {cfg_get(cfg, key)}, expected >= {least}")
    for key in ("evaluation.n_splits", "selection.n_splits", "selection.n_values"):
        if cfg_get(cfg, key) < 2:
            raise ConfigError(key, f"got {cfg_get(cfg, key)}, expected >= 2")
    if cfg.evaluation.n_repeats < 1:
        raise ConfigError("evaluation.n_repeats", f"got {cfg.evaluation.n_repeats}, expected >= 1")
    if not 0 < cfg.evaluation.confidence < 1:
        raise ConfigError(
            "evaluation.confidence", f"got {cfg.evaluation.confidence}, expected 0 < value < 1"
        )
    if not 0 < cfg.selection.low < cfg.selection.high:
        raise ConfigError(
            "selection.low",
            f"got low={cfg.selection.low}, high={cfg.selection.high}; expected 0 < low < high",
        )
    if not 0 < cfg.selection.l1_ratio < 1:
        raise ConfigError(
            "selection.l1_ratio", f"got {cfg.selection.l1_ratio}, expected 0 < value < 1"
        )
    if cfg.selection.name == "cv_path":
        from logreg.linear.path import check_path_solver
        from logreg.linear.solvers import resolve_solver

        try:
            # Checked here, not when the path runs: no folder, no MLflow run, one line.
            check_path_solver(resolve_solver(cfg.optimizer.solver, cfg.penalty.l1), cfg.penalty.l1)
        except InvalidParameterError as exc:
            raise ConfigError(
                "optimizer.solver",
                f"{str(exc).split('; use ')[0]} for selection=cv_path; "
                f"use {str(exc).split('; use ')[1]}, or selection=fixed to fit one penalty",
            ) from None
    if cfg.dataset.kind == "faces":
        value = cfg_get(cfg, "dataset.features")  # folders results/data/faces/<source>/<value>
        try:
            check_features(value)
        except ValueError:
            raise ConfigError(
                "dataset.features",
                f"got {value!r}, expected feature kinds joined by '+' "
                f"(registered: {', '.join(kind_names())}; e.g. hog+kmeans), each once",
            ) from None
    if cfg.dataset.kind != "gaussian_clouds" and not cfg.dataset.path:
        raise ConfigError("dataset.path", "a prepared dataset folder is required")
    if not 0 < cfg.model.threshold_value < 1:
        raise ConfigError(
            "model.threshold_value", f"got {cfg.model.threshold_value}, expected 0 < value < 1"
        )


def path_penalty(cfg: DictConfig) -> str:
    """The penalty a ``cv_path`` selection varies: ``l1`` when ``penalty.l1 > 0`` (at fixed
    ``l2``), else ``l2``."""
    return "l1" if cfg.penalty.l1 > 0 else "l2"


def _override_key(override: str) -> tuple[str, str, str]:
    """``(prefix, key, value)`` of an override such as ``+penalty.l3=0.01``."""
    key, _, value = override.partition("=")
    prefix = key[: len(key) - len(key.lstrip("+~"))]
    return prefix, key[len(prefix) :], value


def _schema_keys(node: Any, prefix: str = "") -> set[str]:
    keys = set()
    for key in node:
        value = node[key] if not OmegaConf.is_missing(node, key) else None
        keys.add(f"{prefix}{key}")
        if isinstance(value, DictConfig):
            keys |= _schema_keys(value, f"{prefix}{key}.")
    return keys


def check_overrides(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> None:
    """What a user set is what runs: refuse a setting the config would ignore.

    * a key added with ``+`` that no config group defines (``+penalty.l3=0.01``) would be
      carried along and never read;
    * ``penalty.<p>`` set while ``selection=cv_path`` chooses ``<p>`` along its path would
      be replaced by the chosen value.

    Raises
    ------
    ConfigError
        Naming the key, the value and the form that works.
    """
    schema = _schema_keys(OmegaConf.structured(TrainConfig))
    for override in overrides:
        prefix, key, value = _override_key(override)
        if key.startswith("hydra.") or key == "hydra":
            continue
        if "+" in prefix and "." in key and key not in schema:
            raise ConfigError(
                key,
                f"'{override}' adds a key that no config group defines, so nothing would read "
                f"it; the keys of '{key.rsplit('.', 1)[0]}' are in "
                f"logreg/experiment/config.py (TrainConfig) and conf/",
            )
        if cfg.selection.name == "cv_path" and key == f"penalty.{path_penalty(cfg)}":
            s = cfg.selection
            where = (
                f"l2 from {s.high:g} to {s.low:g}"
                if key == "penalty.l2"
                else f"l1 from l1_max down to l1_max x {s.l1_ratio:g}"
            )
            raise ConfigError(
                key,
                f"set to {value}, but selection=cv_path chooses {key.split('.')[1]} along its "
                f"path ({where}) and would replace it; add selection=fixed to fit with "
                f"{key}={value}, or move the path with selection.high/selection.low",
            )


def composition_problem(exc: BaseException) -> str:
    """One line for Hydra's error on overrides that do not compose (an unknown key or group
    option, a wrong type): what is wrong and what exists. Hydra's own message spans many
    lines and advises ``+key=value``, which would add a key that nothing reads."""
    import re

    skip = ("To append to your config", "Config search path", "provider=", "HYDRA_FULL_ERROR")
    skip += ("reference_type=", "object_type=", "full_key:")
    lines: list[str] = []
    error: BaseException | None = exc
    while error is not None:  # Hydra puts OmegaConf's reason in the cause
        for line in str(error).splitlines():
            line = " ".join(line.split())
            if line and not line.startswith(skip) and line not in lines:
                lines.append(line)
        error = error.__cause__
    unknown = re.match(r"Could not override '(.+)'", lines[0]) if lines else None
    if unknown and any(line.startswith("Key ") for line in lines):
        key = unknown[1]
        group = key.rsplit(".", 1)[0] if "." in key else ""
        node = OmegaConf.select(OmegaConf.structured(TrainConfig), group) if group else None
        if node is not None:
            return f"config key '{key}': no such key; {group} has {', '.join(node)}"
    text = "; ".join(lines).replace("Available options in", "options of").replace(":;", ":")
    return "config: " + text.replace("; ", ", ").replace(".,", ";")


def compose(overrides: list[str]) -> DictConfig:
    """The training config for ``overrides``, composed as ``python -m logreg.train`` would.

    Used by the Snakefile (to find an experiment's input data) and by the tests.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="logreg"):
        return hydra_compose(config_name="train", overrides=list(overrides))
