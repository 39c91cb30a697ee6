"""User-facing errors.

Every problem caused by the user's input (a data file, a config value) is raised as a
:class:`UserError` subclass whose message names *where* the problem is (file and line,
row, or config key) and *what was expected*. Entry points turn these into a one-line
message on stderr and a non-zero exit status; programming errors keep their traceback.
"""

from __future__ import annotations

import os


class UserError(Exception):
    """An error in something the user gave us; the message is shown as is."""

    exit_code = 2

    def __init__(
        self, message: str, *, where: str | os.PathLike | None = None, line: int | None = None
    ):
        self.where = None if where is None else os.fspath(where)
        self.line = line
        prefix = ""
        if self.where is not None:
            prefix = self.where if line is None else f"{self.where}:{line}"
            prefix += ": "
        super().__init__(prefix + message)


class DataError(UserError, ValueError):
    """A data file is malformed: the message names the file and line (or row)."""


class ConfigError(UserError, ValueError):
    """A configuration value is invalid: the message names the config key."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"config key '{key}': {message}")
