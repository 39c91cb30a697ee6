"""Where things are, for every test: the repository, its sources, the real data."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# The real datasets sit beside the clone (CI and the developers' machines); the tests
# that need them are marked ``realdata`` and skip when they are absent.
SHARED_DATA = REPO.parent / "shared" / "data"
