"""One training run and the workflow's plan of runs.

``config`` (Hydra's structured configs, and their mapping onto the estimator), ``plan``
(which runs the workflow's experiment list expands to), ``run`` (fit, evaluate, write,
track), ``evaluation``, ``metrics``, ``plots``, ``tracking`` (MLflow), ``sweep`` (Hydra
multirun -> parent/child MLflow runs), ``summary`` (one table per data).
"""
