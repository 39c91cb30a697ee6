"""The data the models train on: raw sources -> prepared datasets on disk -> arrays.

``sources`` names each raw data source (results are keyed by it), ``reviews/`` and
``faces/`` are the data stages the workflow runs (``python -m logreg.data.reviews``,
``python -m logreg.data.faces``), ``prepared`` is their on-disk format, ``loading``
turns a dataset config into arrays, ``gaussian_clouds`` draws the course's toy problem.
"""
