"""Structured (dataclass) configs behind the YAML files in ``conf/``.

Hydra merges ``conf/train.yaml`` and its groups into :class:`TrainConfig`, so a wrong type
or an unknown key fails at start-up with Hydra's own message naming the key. Value ranges
that a type cannot express are checked by :func:`check_config`, which raises a
:class:`~logreg.errors.ConfigError` naming the config key.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from logreg.data.faces.normalize import FEATURES
from logreg.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"

DATASET_KINDS = ("reviews", "faces", "gaussian_clouds")
MODELS = ("logistic", "softmax")
SOLVERS = ("auto", "lbfgs", "fista", "gd", "sgd", "minibatch")
LR_SCHEDULES = ("constant", "invscaling", "exponential")
THRESHOLDS = ("val_f1", "fixed")


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
    name: str = MISSING
    path: Optional[str] = None
    domain: Optional[str] = None
    classes: Optional[list[int]] = None  # keep only these class indices (binary experiments)
    # faces: "pixels" or "hog", the prepared folder <results_dir>/faces/<features>
    features: Optional[str] = None
    n_samples: int = 2000  # gaussian_clouds: per split (train); val/test get half each
    mean0: list[float] = field(default_factory=lambda: [-2.0, -2.0])
    mean1: list[float] = field(default_factory=lambda: [2.0, 2.0])
    p1: float = 0.5


@dataclass
class ModelConfig:
    name: str = "logistic"
    fit_intercept: bool = True
    class_weight: Optional[str] = None
    # Binary only: "val_f1" picks the threshold maximizing F1 on the validation split;
    # "fixed" uses threshold_value (0.5 is the course's choice).
    threshold: str = "val_f1"
    threshold_value: float = 0.5


@dataclass
class OptimizerConfig:
    solver: str = "auto"
    lr: float = 0.1
    lr_schedule: str = "constant"
    decay: float = 0.01
    momentum: float = 0.0
    batch_size: int = 32
    max_iter: int = 500
    tol: float = 1e-6
    early_stopping: bool = False
    patience: int = 5


@dataclass
class PenaltyConfig:
    l1: float = 0.0
    l2: float = 0.0


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


def _choice(cfg: DictConfig, key: str, allowed: tuple[str, ...]) -> None:
    value = cfg_get(cfg, key)
    if value not in allowed:
        raise ConfigError(key, f"got {value!r}, expected one of {', '.join(allowed)}")


def cfg_get(cfg: DictConfig, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def check_config(cfg: DictConfig) -> None:
    """Check value ranges and combinations that types cannot express.

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
    _choice(cfg, "model.name", MODELS)
    _choice(cfg, "optimizer.solver", SOLVERS)
    _choice(cfg, "optimizer.lr_schedule", LR_SCHEDULES)
    _choice(cfg, "model.threshold", THRESHOLDS)
    if cfg.model.class_weight not in (None, "balanced"):
        raise ConfigError(
            "model.class_weight", f"got {cfg.model.class_weight!r}, expected null or 'balanced'"
        )
    for key in ("penalty.l1", "penalty.l2"):
        if cfg_get(cfg, key) < 0:
            raise ConfigError(key, f"got {cfg_get(cfg, key)}, expected a value >= 0")
    for key in ("optimizer.lr", "optimizer.tol"):
        if cfg_get(cfg, key) <= 0:
            raise ConfigError(key, f"got {cfg_get(cfg, key)}, expected a value > 0")
    for key in ("optimizer.batch_size", "optimizer.max_iter", "optimizer.patience"):
        if cfg_get(cfg, key) < 1:
            raise ConfigError(key, f"got {cfg_get(cfg, key)}, expected an integer >= 1")
    if not 0 <= cfg.optimizer.momentum < 1:
        raise ConfigError(
            "optimizer.momentum", f"got {cfg.optimizer.momentum}, expected 0 <= momentum < 1"
        )
    if cfg.optimizer.solver == "lbfgs" and cfg.penalty.l1 > 0:
        raise ConfigError(
            "optimizer.solver",
            f"'lbfgs' cannot handle an L1 penalty (penalty.l1={cfg.penalty.l1}); "
            "use optimizer=fista, gd, sgd or minibatch",
        )
    if cfg.dataset.kind == "faces":
        _choice(cfg, "dataset.features", FEATURES)  # folders results/faces/<features>
    if cfg.dataset.kind != "gaussian_clouds" and not cfg.dataset.path:
        raise ConfigError("dataset.path", "a prepared dataset folder is required")
    if not 0 < cfg.model.threshold_value < 1:
        raise ConfigError(
            "model.threshold_value", f"got {cfg.model.threshold_value}, expected 0 < value < 1"
        )


def compose(overrides: list[str]) -> DictConfig:
    """The training config for ``overrides``, composed as ``python -m logreg.train`` would.

    Used by the Snakefile (to find an experiment's input data) and by the tests.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="logreg"):
        return hydra_compose(config_name="train", overrides=list(overrides))
