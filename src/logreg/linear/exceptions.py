"""What the model layer raises or warns with beyond the built-in exceptions.

Library errors only: mapping them to exit codes is the command-line layer's business
(:mod:`logreg.train`).
"""


class ConvergenceWarning(UserWarning):
    """A solver stopped at ``max_iter`` (or could not progress) before meeting ``tol``."""


class TrainingDivergedError(FloatingPointError):
    """The objective became non-finite (or exploded) during training."""
