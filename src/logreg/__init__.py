"""Regularized logistic and softmax regression in numpy, and the pipeline around them."""

from logreg.estimators import LogisticRegression, SoftmaxRegression

__all__ = ["LogisticRegression", "SoftmaxRegression"]
__version__ = "0.1.0"
