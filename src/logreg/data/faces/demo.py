"""Synthetic FER2013-format demo data, so the default workflow needs no download.

Each image is a drawn 48x48 face: an oval on a background, eyes, eyebrows, a nose
shadow and a mouth. Each emotion has its own eyebrow height and tilt, eye opening and
mouth shape (a smile for Happy, an open "O" for Surprise, frowning brows for Angry, a
wrinkled nose for Disgust, ...). Every image blends its emotion's expression with
the neutral one at a random intensity, jitters the face's position, size and every
shape parameter, and adds brightness, contrast and pixel noise: a linear model learns
it well above chance, but not perfectly. Classes are as unbalanced as in FER2013
(Disgust rare) and the Usage column follows its 80/10/10 split.
"""

from __future__ import annotations

import os

import numpy as np

from logreg.data.faces.fer_format import CLASS_NAMES, HEADER, IMAGE_SHAPE, USAGES
from logreg.fileio import atomic_path

# Row counts of FER2013 per emotion, for the class frequencies.
_FER_CLASS_COUNTS = np.array([4953, 547, 5121, 8989, 6077, 4002, 6198])
_USAGE_FRACTIONS = (0.8, 0.1, 0.1)
MIN_ROWS = len(CLASS_NAMES) * len(USAGES)

# Per emotion: brow height, brow tilt (> 0: inner ends down, a frown), eye opening,
# mouth width, mouth curvature (> 0: corners up), mouth opening, nose wrinkle.
_EXPRESSIONS = np.array(
    [
        # brow_v tilt  eye   width curve open  wrinkle
        [-0.30, 0.45, 0.80, 0.22, -0.03, 0.00, 0.0],  # Angry
        [-0.32, 0.25, 0.60, 0.26, -0.10, 0.05, 1.0],  # Disgust
        [-0.47, -0.30, 1.50, 0.34, -0.06, 0.10, 0.0],  # Fear
        [-0.39, 0.00, 0.70, 0.38, 0.15, 0.05, 0.0],  # Happy
        [-0.40, -0.40, 0.80, 0.26, -0.13, 0.00, 0.0],  # Sad
        [-0.56, 0.00, 1.60, 0.16, 0.00, 0.22, 0.0],  # Surprise
        [-0.38, 0.00, 1.00, 0.28, 0.00, 0.00, 0.0],  # Neutral
    ]
)
_NEUTRAL = _EXPRESSIONS[6]
_PARAM_NOISE = np.array([0.03, 0.10, 0.15, 0.04, 0.04, 0.03, 0.25])

_V, _U = np.meshgrid(
    (np.arange(IMAGE_SHAPE[0]) - 23.5) / 24, (np.arange(IMAGE_SHAPE[1]) - 23.5) / 24, indexing="ij"
)


def _blob(u, v, u0, v0, su, sv):
    return np.exp(-0.5 * (((u - u0) / su) ** 2 + ((v - v0) / sv) ** 2))


def draw_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one face of emotion ``label`` as float grey levels, shape (48, 48)."""
    intensity = rng.uniform(0.35, 1.0)
    brow_v, tilt, eye, width, curve, opening, wrinkle = (
        _NEUTRAL
        + intensity * (_EXPRESSIONS[label] - _NEUTRAL)
        + _PARAM_NOISE * rng.standard_normal(7)
    )
    scale = rng.normal(1.0, 0.06)
    u = (_U - rng.normal(0, 0.06)) / scale
    v = (_V - rng.normal(0, 0.06)) / scale

    face = 1 / (1 + np.exp(-12 * (1 - (u / 0.72) ** 2 - ((v - 0.05) / 0.9) ** 2)))
    image = rng.uniform(40, 90) + 15 * _U + face * rng.uniform(90, 130)
    image -= 60 * face * (v < -0.62) * rng.uniform(0.3, 1.0)  # hair line
    dark = np.zeros_like(u)
    for side in (-1, 1):
        dark += _blob(u, v, side * 0.33, -0.12, 0.10, 0.045 * max(eye, 0.2))
        # eyebrow: a bar from |u| = 0.12 to 0.56 whose inner end moves with the tilt
        brow_line = brow_v - tilt * (np.abs(u) - 0.33)
        along = (side * u > 0.12) & (side * u < 0.56)
        dark += 0.8 * along * np.exp(-0.5 * ((v - brow_line) / 0.035) ** 2)
        dark += wrinkle * 0.5 * _blob(u, v, side * 0.10, 0.05, 0.03, 0.08)
    dark += 0.35 * _blob(u, v, 0.0, 0.22, 0.09, 0.05)  # nose shadow
    inside = np.clip(1 - np.abs(u) / max(width, 0.08), 0, 1) ** 0.3
    lip = 0.55 + 0.6 * opening + curve * (1 - (u / max(width, 0.08)) ** 2)  # v points down
    dark += 0.9 * inside * np.exp(-0.5 * ((v - lip) / 0.035) ** 2)
    dark += inside * _blob(u, v, 0.0, 0.55 + 0.3 * opening, width * 0.8, max(opening, 0.005) * 0.9)
    image -= np.clip(dark, 0, 1.2) * rng.uniform(60, 100)
    image = (image - image.mean()) * rng.uniform(0.75, 1.25) + image.mean()
    image += rng.normal(0, 18) + rng.normal(0, 12, size=image.shape)
    return image


def _split_counts(n: int, fractions) -> np.ndarray:
    """Largest-remainder rounding of ``n * fractions`` with every count >= 1."""
    raw = n * np.asarray(fractions, dtype=float) / np.sum(fractions)
    counts = np.maximum(np.floor(raw).astype(int), 1)
    order = np.argsort(counts - raw, kind="stable")  # most under-served first
    for i in range(n - counts.sum()):
        counts[order[i % len(order)]] += 1
    while counts.sum() > n:  # the minimum of 1 overshot: take from the largest
        counts[np.argmax(counts)] -= 1
    return counts


def make_demo_faces(
    n_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw a demo dataset in FER2013's file order (Training, PublicTest, PrivateTest).

    Parameters
    ----------
    n_rows : int
        Number of images, at least 21 (every emotion in every Usage).
    rng : numpy.random.Generator

    Returns
    -------
    pixels : ndarray of uint8, shape (n_rows, 2304)
    labels : ndarray of int64, shape (n_rows,)
    usage : ndarray of int8, shape (n_rows,)
        Index into :data:`logreg.data.faces.fer_format.USAGES`.
    """
    if n_rows < MIN_ROWS:
        raise ValueError(
            f"n_rows must be at least {MIN_ROWS} (7 emotions x 3 Usage values), got {n_rows}"
        )
    labels, usage = [], []
    for code, n_split in enumerate(_split_counts(n_rows, _USAGE_FRACTIONS)):
        per_class = _split_counts(n_split, _FER_CLASS_COUNTS)
        labels.append(rng.permutation(np.repeat(np.arange(len(CLASS_NAMES)), per_class)))
        usage.append(np.full(n_split, code, dtype=np.int8))
    labels, usage = np.concatenate(labels), np.concatenate(usage)
    pixels = np.stack([draw_face(int(k), rng) for k in labels])
    pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(n_rows, -1)
    return pixels, labels.astype(np.int64), usage


def write_demo_csv(path: str | os.PathLike, n_rows: int, seed: int) -> None:
    """Write ``n_rows`` demo faces as a FER2013 CSV (``emotion,pixels,Usage``, LF).

    The same ``n_rows`` and ``seed`` give a byte-identical file. Written atomically.
    """
    pixels, labels, usage = make_demo_faces(n_rows, np.random.default_rng(seed))
    lines = [",".join(HEADER)]
    lines += [
        f"{label},{' '.join(map(str, row.tolist()))},{USAGES[code]}"
        for label, row, code in zip(labels, pixels, usage)
    ]
    with atomic_path(path) as tmp:
        tmp.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
