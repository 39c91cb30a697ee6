"""Helpers shared by the package's command-line entry points."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence

from logreg.errors import UserError

log = logging.getLogger("logreg")


def setup_logging(level: int = logging.INFO) -> None:
    """Log ``time level message`` lines to stderr (Snakemake captures them per rule)."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def run_cli(
    main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None
) -> None:
    """Run ``main(argv)``; a :class:`UserError` becomes ``error: <message>`` and exit 2.

    Anything else propagates with its traceback: that is a bug, not bad input.
    """
    setup_logging()
    try:
        main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
