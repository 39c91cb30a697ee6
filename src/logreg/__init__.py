"""Regularized logistic and softmax regression in numpy, and the pipeline around them.

``from logreg import LogisticRegression, SoftmaxRegression``. The estimators are imported
on first use so that the data-stage commands (``python -m logreg.data.reviews`` ...) start fast.
"""

__all__ = ["LogisticRegression", "SoftmaxRegression"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in __all__:
        from logreg.linear import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'logreg' has no attribute {name!r}")
