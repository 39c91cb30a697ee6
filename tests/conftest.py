"""Shared test set-up: the helper modules in this folder (``paths``, ``servers``) are
importable from every test folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
