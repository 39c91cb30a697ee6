"""Face feature kinds: one class per kind, one registry, and their concatenation.

A feature kind turns raw 48x48 grey levels (uint8, shape (n, 2304)) into float32 features.
Each kind is one module of :mod:`logreg.data.faces.kinds` defining one subclass of
:class:`FeatureKind`: defining the subclass registers it, and the registry imports every
module of that package. The data stage (``python -m logreg.data.faces prepare``: its
``--features`` and ``--<kind>-<option>`` options), the workflow (the per-kind options of
``faces.<kind>``, threads and priority), the training config (``dataset.features``), the
evaluation (weight pictures, figures) and the served model (``normalization.npz``) read
the registry, so adding a kind is its module and its ``faces.<kind>`` section of
``workflow/schemas/config.schema.yaml``.

A feature spec names kinds joined by ``+`` (``hog+kmeans``): their features side by
side, in that order (:class:`Concatenation`). A concatenation may hold one kind twice
with different options (two k-means scales); its saved arrays then carry the prefixes
``kmeans`` and ``kmeans2``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import pkgutil
import time
from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np

log = logging.getLogger(__name__)

KINDS_PACKAGE = "logreg.data.faces.kinds"
# Folder names beside the prepared feature folders (results/data/faces/<source>/<spec>).
RESERVED_NAMES = frozenset({"images"})
_REGISTRY: dict[str, type[FeatureKind]] = {}
_SCANNED = False


class FeatureKind:
    """One kind of face features: options, fit on training images, transform, save, load.

    Subclasses set the class attributes and override :meth:`transform` (and :meth:`fit`,
    :meth:`save`, :meth:`load` when they learn something from the training images).

    Class attributes
    ----------------
    name : str
        The kind's name in feature specs, CLI options (``--<name>-<option>``), the workflow
        config (``faces.<name>``), ``meta.json`` and ``normalization.npz``.
    Params : dataclass type
        Its options, all with defaults; the constructor checks them (ValueError). The
        number of features must follow from them alone (:attr:`n_features`).
    normalizations : tuple of str
        The normalizations its features may take (``per_pixel``: standardized per feature
        with training statistics; pixels also allow ``scale`` and ``per_image``).
    parallel : bool
        Whether :meth:`transform` uses ``n_threads`` (the long kinds): the workflow gives
        such jobs every core and starts them first.
    description : str
        One line for ``--help``.
    """

    name: ClassVar[str]
    Params: ClassVar[type]
    normalizations: ClassVar[tuple[str, ...]] = ("per_pixel",)
    parallel: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # an abstract intermediate class
        if cls.name in RESERVED_NAMES or not cls.name.isidentifier() or "+" in cls.name:
            raise ValueError(f"feature kind name {cls.name!r} is reserved or not an identifier")
        if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
            raise ValueError(f"two feature kinds named {cls.name!r}")
        _REGISTRY[cls.name] = cls

    def __init__(self, params=None) -> None:
        self.params = self.Params() if params is None else params
        if not isinstance(self.params, self.Params):
            raise TypeError(f"{self.name} options must be {self.Params.__name__}, got {params!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    @property
    def n_features(self) -> int:
        return int(self.params.n_features)

    def fit(self, train_pixels: np.ndarray, n_threads: int | None = None) -> FeatureKind:
        """Learn what the kind needs from the training images (default: nothing)."""
        return self

    def transform(
        self, pixels: np.ndarray, out: np.ndarray | None = None, n_threads: int | None = None
    ) -> np.ndarray:
        """Features of raw images (n, 2304) as float32 (n, n_features), into ``out`` if given.

        One image must give the same bits alone (a served model) as among many."""
        raise NotImplementedError

    def save(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays for ``normalization.npz`` (no pickles); keys start with ``prefix``."""
        return {f"{prefix}_params": np.array(json.dumps(params_dict(self.params)))}

    @classmethod
    def load(cls, archive: Mapping[str, np.ndarray], prefix: str) -> FeatureKind:
        """The fitted kind from the arrays :meth:`save` wrote (ValueError/KeyError if bad)."""
        return cls(cls.Params(**json.loads(str(archive[f"{prefix}_params"]))))

    def write_files(self, folder, prefix: str) -> list[str]:
        """Extra files (figures) the data stage writes beside the features; their names."""
        return []

    @classmethod
    def figure_names(cls, prefix: str) -> list[str]:
        """The names :meth:`write_files` uses (the evaluation copies them into a run)."""
        return []

    def weight_pictures(self, weights: np.ndarray) -> tuple[np.ndarray, str | None] | None:
        """Each class's weights on these features as an image (classes, h, w), with a
        caption; None when the kind has no picture."""
        return None


def _scan() -> None:
    """Import every module of :data:`KINDS_PACKAGE` once: each registers its kind."""
    global _SCANNED
    if _SCANNED:
        return
    package = importlib.import_module(KINDS_PACKAGE)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{KINDS_PACKAGE}.{module.name}")
    _SCANNED = True


def registry() -> dict[str, type[FeatureKind]]:
    """Name -> kind class of every registered kind, by name (whatever the import order)."""
    _scan()
    return dict(sorted(_REGISTRY.items()))


def kind_modules() -> list[str]:
    """The modules of the registered kinds (imported dynamically, so code digests list them)."""
    return sorted({cls.__module__ for cls in registry().values()})


def params_dict(params) -> dict:
    """A kind's options as a plain dict of JSON values."""
    if hasattr(params, "to_dict"):
        return params.to_dict()
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def option_fields(kind: type[FeatureKind]) -> list[tuple[str, object]]:
    """(option name, default) of each of a kind's options."""
    defaults = kind.Params()
    return [(f.name, getattr(defaults, f.name)) for f in dataclasses.fields(kind.Params)]


def cli_option(kind_name: str, option: str) -> str:
    """``--kmeans-n-centroids``: the data stage's option for one option of one kind."""
    return f"--{kind_name}-{option.replace('_', '-')}"


def cli_options(kind: FeatureKind) -> list[str]:
    """The data stage's arguments that reproduce ``kind.params`` (what the workflow passes)."""
    options: list[str] = []
    for name, value in params_dict(kind.params).items():
        options += [cli_option(kind.name, name), str(value)]
    return options


def spec_names(features: str) -> tuple[str, ...]:
    """The kind names of a feature spec, in column order; ValueError naming the kinds."""
    kinds = registry()
    names = tuple(features.split("+")) if isinstance(features, str) else ()
    unknown = [n for n in names if n not in kinds]
    if not names or unknown:
        raise ValueError(
            f"features must be registered kinds joined by '+' ({', '.join(kinds)}; e.g. "
            f"hog+kmeans), got {features!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"features name a kind twice: {features!r}")
    return names


def allowed_normalizations(features: str) -> tuple[str, ...]:
    """The normalizations every kind of the spec takes (in the first kind's order)."""
    kinds = [registry()[n] for n in spec_names(features)]
    return tuple(m for m in kinds[0].normalizations if all(m in k.normalizations for k in kinds))


def build(features: str, params: Mapping[str, object] | None = None) -> Concatenation:
    """The (unfitted) :class:`Concatenation` of a spec, with options per kind name
    (missing: the defaults). Options of a kind that is not in the spec are an error."""
    names = spec_names(features)
    params = {k: v for k, v in (params or {}).items() if v is not None}
    extra = sorted(set(params) - set(names))
    if extra:
        raise ValueError(f"options for {', '.join(extra)} given, but features is {features!r}")
    kinds = registry()
    return Concatenation([kinds[n](params.get(n)) for n in names])


class Concatenation:
    """Several fitted kinds side by side: the features of a spec such as ``hog+kmeans``."""

    def __init__(self, parts: Iterable[FeatureKind]) -> None:
        self.parts = list(parts)
        if not self.parts:
            raise ValueError("a concatenation needs at least one feature kind")

    @property
    def spec(self) -> str:
        return "+".join(part.name for part in self.parts)

    @property
    def n_features(self) -> int:
        return sum(part.n_features for part in self.parts)

    @property
    def parallel(self) -> bool:
        return any(part.parallel for part in self.parts)

    def prefixes(self) -> list[str]:
        """Each part's key prefix: its name, then ``name2``, ``name3`` for repeats."""
        seen: dict[str, int] = {}
        out = []
        for part in self.parts:
            seen[part.name] = seen.get(part.name, 0) + 1
            out.append(part.name if seen[part.name] == 1 else f"{part.name}{seen[part.name]}")
        return out

    def blocks(self) -> list[tuple[str, FeatureKind, slice]]:
        """(prefix, part, columns) of each part, in column order."""
        out, column = [], 0
        for prefix, part in zip(self.prefixes(), self.parts):
            out.append((prefix, part, slice(column, column + part.n_features)))
            column += part.n_features
        return out

    def part(self, prefix: str) -> FeatureKind:
        """The part saved under ``prefix`` (a kind's name for its first occurrence)."""
        return {p: part for p, part, _ in self.blocks()}[prefix]

    def fit(self, train_pixels: np.ndarray, n_threads: int | None = None) -> Concatenation:
        for prefix, part, _ in self.blocks():
            started = time.perf_counter()
            part.fit(train_pixels, n_threads)
            seconds = time.perf_counter() - started
            if seconds > 1:
                log.info("%s fitted on %d images in %.1f s", prefix, len(train_pixels), seconds)
        return self

    def transform(self, pixels: np.ndarray, n_threads: int | None = None) -> np.ndarray:
        """The parts' features side by side: float32 (n, n_features)."""
        out = np.empty((pixels.shape[0], self.n_features), np.float32)
        for prefix, part, columns in self.blocks():
            started = time.perf_counter()
            part.transform(pixels, out=out[:, columns], n_threads=n_threads)
            if pixels.shape[0] > 1000:  # the data stage, not a served prediction
                log.info(
                    "%s features of %d images in %.1f s",
                    prefix,
                    pixels.shape[0],
                    time.perf_counter() - started,
                )
        return out

    def save(self) -> dict[str, np.ndarray]:
        arrays = {}
        for prefix, part, _ in self.blocks():
            arrays.update(part.save(prefix))
        return arrays

    @classmethod
    def load(cls, spec: str, archive: Mapping[str, np.ndarray]) -> Concatenation:
        """The fitted parts of ``spec`` from the arrays :meth:`save` wrote."""
        kinds = registry()
        names = spec.split("+")
        unknown = [n for n in names if n not in kinds]
        if unknown:
            raise ValueError(f"unknown feature kinds {unknown} (registered: {', '.join(kinds)})")
        shell = cls([kinds[n]() for n in names])  # defaults: only to name the prefixes
        return cls([kinds[n].load(archive, p) for n, p in zip(names, shell.prefixes())])

    @classmethod
    def from_meta(cls, meta: Mapping) -> Concatenation:
        """The parts (unfitted: options only) a prepared folder's ``meta.json`` describes."""
        kinds = registry()
        names = str(meta.get("features", "pixels")).split("+")
        shell = cls([kinds[n]() for n in names])
        parts = []
        for name, prefix in zip(names, shell.prefixes()):
            options = meta.get(prefix)
            parts.append(kinds[name](None if options is None else kinds[name].Params(**options)))
        return cls(parts)

    def meta(self) -> dict[str, dict]:
        """Each part's options under its prefix (``meta.json``); none for option-less kinds."""
        out = {}
        for prefix, part, _ in self.blocks():
            options = params_dict(part.params)
            if options:
                out[prefix] = options
        return out
