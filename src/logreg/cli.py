"""Helpers shared by the package's command-line entry points."""

from __future__ import annotations

import logging
import signal
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


def signal_reason(signum: int) -> str:
    """Why a process stops on signal ``signum``: what the MLflow ``error`` tag and the
    console say ("interrupted (SIGINT)" for Ctrl-C, "terminated by signal 15" for kill)."""
    if signum == signal.SIGINT:
        return "interrupted (SIGINT)"
    return f"terminated by signal {signum}"


def interrupt_reason(exc: BaseException) -> str:
    """The reason a :class:`KeyboardInterrupt` carries. Signal handlers raise it with
    :func:`signal_reason`; Python's own Ctrl-C handler raises it with no message."""
    return str(exc) or signal_reason(signal.SIGINT)
