"""FER2013 facial-expression data: reading (CSV, CSV.gz, image folders), validation,
splits, normalization, demo data and the prepared dataset that training reads.

The functions a served model needs are re-exported here: :func:`parse_pixel_string`
turns a CSV-style pixel string into a validated image vector, and :func:`normalize`
with :func:`load_stats` (``<prepared>/normalization.npz``) transforms it exactly as
the training images were.
"""

from logreg.data.faces.fer_format import CLASS_NAMES, IMAGE_SHAPE, N_PIXELS, parse_pixel_string
from logreg.data.faces.normalize import NormalizationStats, fit_normalization, load_stats, normalize

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SHAPE",
    "N_PIXELS",
    "NormalizationStats",
    "fit_normalization",
    "load_stats",
    "normalize",
    "parse_pixel_string",
]
