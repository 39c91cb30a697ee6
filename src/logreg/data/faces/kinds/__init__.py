"""The face feature kinds, one module each (see :mod:`logreg.data.faces.feature_kinds`).

Every module here is imported by the registry; defining a :class:`FeatureKind` subclass
with a ``name`` registers it.
"""
