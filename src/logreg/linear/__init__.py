"""The model layer: regularized logistic and softmax regression in numpy and scipy.

``loss`` (cross-entropies, one pass for loss and gradient), ``penalties`` (L2, L1 prox),
``solvers/`` (one registry; lbfgs, fista, gradient_descent), ``estimators`` (the
scikit-learn-style classes; they own their hyperparameters' validity), ``validation``
(input checks), ``model_selection`` (the stratified splitter), ``exceptions``.
It imports nothing else of the package.
"""
