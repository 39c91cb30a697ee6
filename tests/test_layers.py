"""The package's layers import one way only: a path tells a reader what a file may import.

    foundation (errors, fileio, cli, provenance)  <  linear  <  data  <  serving  <  experiment

and the commands (``logreg.train``, ``logreg.predict``, ``logreg.compare``,
``logreg.reproduce``) and ``logreg/__init__`` sit on top. ``linear`` (the models) imports
nothing of the package but itself, so it can be read, tested and reused alone. Every
``import`` is checked, those inside functions included.
"""

import ast

import pytest

from paths import SRC

PACKAGE = SRC / "logreg"
FOUNDATION = {"logreg.errors", "logreg.fileio", "logreg.cli", "logreg.provenance"}
ENTRY_POINTS = {"logreg", "logreg.train", "logreg.predict", "logreg.compare", "logreg.reproduce"}
LAYERS = ["linear", "data", "serving", "experiment"]
# What each layer may import besides itself.
ALLOWED = {
    "foundation": set(),
    "linear": set(),
    "data": {"foundation", "linear"},
    "serving": {"foundation", "linear", "data"},
    "experiment": {"foundation", "linear", "data", "serving"},
}


def module_name(path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    if module in ENTRY_POINTS:
        return "entry"
    if module in FOUNDATION:
        return "foundation"
    layer = module.split(".")[1]
    assert layer in LAYERS, f"{module} belongs to no layer: put it in one of {LAYERS}"
    return layer


def imported_modules(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from logreg.experiment import metrics`` imports logreg.experiment.metrics
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module)
    return {name for name in found if name == "logreg" or name.startswith("logreg.")}


def resolve(name: str) -> str:
    """The module an imported dotted name lives in (drop a trailing attribute)."""
    while name != "logreg" and not (
        (SRC / (name.replace(".", "/") + ".py")).exists()
        or (SRC / name.replace(".", "/") / "__init__.py").exists()
    ):
        name = name.rsplit(".", 1)[0]
    return name


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_the_layers(path):
    module = module_name(path)
    layer = layer_of(module)
    if layer == "entry":
        return
    for imported in sorted(map(resolve, imported_modules(path))):
        target = layer_of(imported) if imported != "logreg" else "entry"
        if target == layer and target != "foundation":
            continue
        if target == "foundation" and layer == "foundation":
            assert imported == "logreg.errors", f"{module} imports {imported}"
            continue
        assert target in ALLOWED[layer], (
            f"{module} ({layer}) imports {imported} ({target}); "
            f"{layer} may import only {sorted(ALLOWED[layer]) or 'itself'}"
        )


def test_every_layer_is_checked():
    assert {layer_of(module_name(p)) for p in MODULES} == {"entry", "foundation", *LAYERS}
