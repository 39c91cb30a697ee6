"""Served models: the MLflow pyfunc model that maps raw input (review text, FER2013
pixels) through the run's features to class probabilities, and the predict command."""
