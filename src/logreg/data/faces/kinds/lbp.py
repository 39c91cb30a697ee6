"""The ``lbp`` kind: histograms of uniform local binary patterns over a grid of face regions.

Shan, Gong & McOwan (2009, "Facial expression recognition based on Local Binary
Patterns") describe each region of a face by how often each small texture pattern
occurs. For every pixel :math:`c` away from the border, its 8 neighbours :math:`n_k` at
distance 1 (clockwise from the top-left) give the code :math:`\\sum_k [n_k \\ge c]\\, 2^k`;
the 58 *uniform* codes (at most two 0/1 transitions around the circle: edges, corners,
spots, flat areas) keep a bin each and the 198 others share one: 59 bins. The 46x46 code
map is split into ``grid`` x ``grid`` regions (as evenly as possible) and each region's
histogram, divided by its number of pixels, gives 59 features: ``grid**2 * 59`` in all,
ordered (region row, region column, bin). Nothing is learned; integer comparisons make
one image's features the same bits alone or among many. Invariant to any monotone
change of the grey levels (lighting, contrast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logreg.data.faces.feature_kinds import FeatureKind
from logreg.data.faces.fer_format import IMAGE_SHAPE

_SIDE = IMAGE_SHAPE[0] - 2  # pixels with all 8 neighbours
_N_BINS = 59
_CHUNK_ROWS = 2048  # (rows, 46, 46) int16 temporaries: ~9 MB each
# (row, column) offsets of the 8 neighbours, clockwise from the top-left.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _uniform_bins() -> np.ndarray:
    """Code 0..255 -> bin: the 58 uniform codes 0..57 in increasing order, the rest 58."""
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)) & 1
    transitions = (bits != np.roll(bits, 1, axis=1)).sum(axis=1)
    uniform = transitions <= 2
    bins = np.full(256, _N_BINS - 1, np.int64)
    bins[uniform] = np.arange(uniform.sum())
    return bins


_BINS = _uniform_bins()


@dataclass(frozen=True)
class LbpParams:
    """``grid`` regions per side (6: regions of about 8x8 pixels, 2,124 features)."""

    grid: int = 6

    def __post_init__(self) -> None:
        if isinstance(self.grid, bool) or not isinstance(self.grid, (int, np.integer)):
            raise ValueError(f"grid must be an integer, got {self.grid!r}")
        if not 1 <= self.grid <= _SIDE:
            raise ValueError(f"grid must be in 1..{_SIDE} (regions per side), got {self.grid}")

    @property
    def n_features(self) -> int:
        return self.grid**2 * _N_BINS


def _regions(grid: int) -> np.ndarray:
    """(46, 46) region index of each code position, row-major regions."""
    along = np.concatenate(
        [np.full(len(part), i) for i, part in enumerate(np.array_split(np.arange(_SIDE), grid))]
    )
    return along[:, None] * grid + along[None, :]


class Lbp(FeatureKind):
    name = "lbp"
    Params = LbpParams
    description = "uniform local binary pattern histograms per face region (Shan et al.)"

    def transform(self, pixels, out=None, n_threads=None):
        pixels = np.asarray(pixels)
        n, grid = pixels.shape[0], self.params.grid
        if out is None:
            out = np.empty((n, self.n_features), np.float32)
        region = _regions(grid).ravel()
        sizes = np.bincount(region, minlength=grid * grid).astype(np.float32)
        for i in range(0, n, _CHUNK_ROWS):
            images = pixels[i : i + _CHUNK_ROWS].reshape(-1, *IMAGE_SHAPE).astype(np.int16)
            m = images.shape[0]
            centre = images[:, 1:-1, 1:-1]
            code = np.zeros(centre.shape, np.int16)
            for k, (dr, dc) in enumerate(_NEIGHBOURS):
                neighbour = images[:, 1 + dr : 1 + dr + _SIDE, 1 + dc : 1 + dc + _SIDE]
                code |= (neighbour >= centre).astype(np.int16) << k
            index = (np.arange(m)[:, None] * (grid * grid) + region) * _N_BINS
            index = index + _BINS[code.reshape(m, -1)]
            counts = np.bincount(index.ravel(), minlength=m * grid * grid * _N_BINS)
            histograms = counts.reshape(m, grid * grid, _N_BINS).astype(np.float32)
            histograms /= sizes[:, None]
            out[i : i + m] = histograms.reshape(m, -1)
        return out

    def weight_pictures(self, weights):
        grid = self.params.grid
        per_region = weights.reshape(weights.shape[0], grid, grid, _N_BINS).mean(axis=3)
        # Each pixel shows its region's mean weight (border pixels: the nearest region).
        along = np.clip(np.arange(IMAGE_SHAPE[0]) - 1, 0, _SIDE - 1)
        region = _regions(grid)[along][:, along]
        images = per_region.reshape(weights.shape[0], -1)[:, region]
        return (
            images,
            f"LBP weights: mean over the {_N_BINS} patterns of each of the {grid}x{grid} "
            "face regions",
        )
