"""The workflow's plan: which training runs an experiment list expands to.

An experiment in the workflow config is a template: a name and Hydra overrides (a preset
plus changes). Its dataset kind comes from the composed config; a review experiment runs
once per review domain (unless its overrides pin ``dataset.domain`` or its ``domains``
entry lists some), a face experiment once on the FER2013 source, a Gaussian-clouds one
once on generated data. Each run is identified by ``(experiment, dataset)``, where the
dataset is ``<source>`` or ``<source>/<domain>``: the run folder
``results/runs/<experiment>/<dataset>`` and the MLflow run name carry both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from logreg.data.sources import GENERATED
from logreg.errors import ConfigError
from logreg.experiment.config import check_config, check_overrides, composition_problem

DOMAIN_OVERRIDE = "dataset.domain="


@dataclass(frozen=True)
class PlannedRun:
    """One training run of the workflow."""

    experiment: str
    kind: str  # "reviews", "faces" or "gaussian_clouds"
    source: str
    domain: str | None
    overrides: tuple[str, ...]  # the full Hydra overrides of `python -m logreg.train`
    data_dir: str | None  # the prepared folder it reads (None for generated data)
    # sha256 of the composed, resolved training config: the run's rerun trigger, so an
    # edit of its preset, of a group default or of its overrides reruns it (and no other).
    config_digest: str = ""

    @property
    def dataset(self) -> str:
        return self.source if self.domain is None else f"{self.source}/{self.domain}"


def _pinned_domain(overrides: Sequence[str]) -> str | None:
    for override in overrides:
        if override.startswith(DOMAIN_OVERRIDE):
            return override[len(DOMAIN_OVERRIDE) :].strip("'\"")
    return None


def plan_runs(
    experiments: Sequence[Mapping],
    *,
    review_source: str,
    review_domains: Sequence[str],
    face_source: str,
    run_overrides: Callable[[str, str], list[str]],
    compose: Callable[[list[str]], DictConfig],
) -> list[PlannedRun]:
    """Expand the workflow's ``experiments`` over the data they name.

    Parameters
    ----------
    experiments : list of {"name", "overrides", optional "domains"}
    review_source, face_source : str
        Source names (:func:`logreg.data.sources.source_name`).
    review_domains : list of str
        The domains every review experiment runs on by default.
    run_overrides : callable (experiment, dataset) -> list of str
        The overrides the workflow owns (paths, tracking store, provenance).
    compose : callable
        Composes a training config from overrides (:func:`logreg.experiment.config.compose`).

    Raises
    ------
    ValueError
        Naming the experiment and what is wrong with it: overrides that do not compose,
        an invalid value, or domains that are not in ``review_domains``.
    """
    runs = []
    for entry in experiments:
        name, own = entry["name"], list(entry["overrides"])
        where = f"experiment '{name}' in the workflow config: its overrides {own}"
        cfg = _compose_checked(compose, own, where)
        kind = cfg.dataset.kind
        if kind == "reviews":
            pinned = _pinned_domain(own)
            domains = [pinned] if pinned else list(entry.get("domains") or review_domains)
            unknown = [d for d in domains if d not in review_domains and d != pinned]
            if unknown:
                raise ValueError(
                    f"experiment '{name}' in the workflow config: domains "
                    f"{unknown} are not in review_domains {list(review_domains)}"
                )
            targets = [
                (review_source, d, [] if pinned else [f"dataset.domain='{d}'"]) for d in domains
            ]
        elif kind == "faces":
            targets = [(face_source, None, [])]
        else:
            targets = [(GENERATED, None, [])]
        for source, domain, data_overrides in targets:
            if kind != "gaussian_clouds":
                data_overrides = [f"dataset.source={source}", *data_overrides]
            run = PlannedRun(name, kind, source, domain, (), None)
            overrides = [*own, *data_overrides, *run_overrides(name, run.dataset)]
            cfg = _compose_checked(compose, overrides, where)
            data_dir = None if kind == "gaussian_clouds" else str(cfg.dataset.path)
            runs.append(
                PlannedRun(
                    name, kind, source, domain, tuple(overrides), data_dir, config_digest(cfg)
                )
            )
    return runs


def config_digest(cfg: DictConfig) -> str:
    """sha256 (16 hex digits) of the resolved config: equal exactly when every value is."""
    text = OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _compose_checked(compose, overrides: list[str], where: str) -> DictConfig:
    try:
        cfg = compose(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        problem = composition_problem(exc).removeprefix("config: ")
        raise ValueError(f"{where} do not compose: {problem}") from None
    try:
        # At start-up: a bad value names its key here instead of asking for a file no
        # rule makes.
        check_config(cfg)
        check_overrides(cfg, overrides)
    except ConfigError as exc:
        raise ValueError(f"{where} give an invalid value: {exc}") from None
    return cfg
