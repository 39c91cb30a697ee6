"""The workflow's config, checked against its JSON Schema with one line per mistake.

Snakemake's own ``validate`` reports a bad value with the failing part of the schema and
the whole config (770 lines for an unknown top-level key). :func:`check_workflow_config`
validates the same way (JSON Schema draft 2020-12, missing keys filled in from the
schema's defaults) and raises one line instead: the key, the value, what is allowed.

    workflow config key split.test_fraction: got 2; allowed: a number > 0 and < 1
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, MutableMapping
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from logreg.errors import UserError

TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "string": "text",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)
MAX_VALUE_LENGTH = 80


class WorkflowConfigError(UserError, ValueError):
    """A value of the workflow config (conf/workflow/config.yaml, --configfile, --config)
    that its schema refuses; the message names the key, the value and what is allowed."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"workflow config key {key}: {message}")


def _with_defaults(validator_class):
    """A validator that fills in each missing key's schema default as it validates (as
    Snakemake's ``validate(..., set_default=True)``, from the jsonschema FAQ)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, MutableMapping):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def check_workflow_config(config: MutableMapping, schema_path: str | os.PathLike) -> None:
    """Validate ``config`` in place against the schema at ``schema_path``; fill defaults.

    Raises :class:`WorkflowConfigError` with one line for the most relevant mistake.
    Nested values given with ``--config`` arrive as text (``--config split='{test_fraction:
    0.3}'`` gives ``'0.3'``); where the schema takes no text, they are read as YAML first.
    """
    with open(schema_path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    _read_text_values(config, schema)
    validator = _with_defaults(Draft202012Validator)(schema)
    error = best_match(validator.iter_errors(config))
    if error is not None:
        raise _one_line(error)


def _read_text_values(value: Any, schema: dict) -> Any:
    """``value`` with text read as YAML wherever ``schema`` allows no text (in place for
    mappings and lists, whose items are returned as they are or converted)."""
    if isinstance(value, str):
        if "string" in _types(schema) or any(isinstance(v, str) for v in schema.get("enum", [])):
            return value
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if isinstance(parsed, (str, dict, list)) else parsed
    if isinstance(value, MutableMapping):
        for name, subschema in schema.get("properties", {}).items():
            if name in value:
                value[name] = _read_text_values(value[name], subschema)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [_read_text_values(item, schema["items"]) for item in value]
    return value


def _types(schema: dict) -> list[str]:
    types = schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _one_line(error: ValidationError) -> WorkflowConfigError:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        unknown = [name for name in error.instance if name not in known]
        return WorkflowConfigError(
            _key([*path, unknown[0]]), f"unknown key; allowed here: {', '.join(known)}"
        )
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return WorkflowConfigError(
            _key([*path, missing[0]]),
            f"missing; required here: {', '.join(error.validator_value)}",
        )
    return WorkflowConfigError(
        _key(path) or "(top level)",
        f"got {_show(error.instance)}; allowed: {_allowed(error.schema)}",
    )


def _key(path: Iterable) -> str:
    """``experiments[0].name`` from the path ``['experiments', 0, 'name']``."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML: text quoted, null, true/false, [a, b]."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 3] + "..."


def _allowed(schema: dict) -> str:
    """What ``schema`` accepts, in words: ``a number > 0 and < 1``, ``one of a, b``."""
    if "enum" in schema:
        return "one of " + ", ".join(_show(v).strip("'\"") for v in schema["enum"])
    described = []
    for name in _types(schema):
        text = TYPE_NAMES.get(name, name)
        if name in ("integer", "number"):
            bounds = [f"{op} {schema[key]}" for key, op in BOUNDS if key in schema]
            text += " " + " and ".join(bounds) if bounds else ""
        elif name == "string" and "pattern" in schema:
            text = f"text matching {schema['pattern']}"
        elif name == "string" and schema.get("minLength"):
            text = "non-empty text"
        elif name == "array":
            details = []
            if isinstance(schema.get("items"), dict):
                details.append(f"each {_allowed(schema['items'])}")
            if schema.get("minItems"):
                details.append(f"at least {schema['minItems']}")
            if schema.get("uniqueItems"):
                details.append("no repeats")
            text += f" ({'; '.join(details)})" if details else ""
        elif name == "object" and schema.get("properties"):
            text += f" with keys {', '.join(schema['properties'])}"
        described.append(text)
    return " or ".join(described) or "see the schema"
