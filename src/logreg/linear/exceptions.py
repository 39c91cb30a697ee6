"""What the model layer raises or warns with beyond the built-in exceptions.

Library errors only: mapping them to exit codes is the command-line layer's business
(:mod:`logreg.train`).
"""


class ConvergenceWarning(UserWarning):
    """A solver stopped at ``max_iter`` (or could not progress) before meeting ``tol``."""


class TrainingDivergedError(FloatingPointError):
    """The objective became non-finite (or exploded) during training."""


class InvalidParameterError(ValueError):
    """An estimator parameter has an invalid value; ``param`` names it.

    The estimator is the one owner of what its parameters may be: callers that set them
    from elsewhere (a config file) catch this and say where the value came from.
    """

    def __init__(self, param: str, message: str):
        self.param = param
        super().__init__(message)
