"""Unsupervised patch features of 48x48 faces: k-means on whitened patches (Coates & Ng, 2011).

A linear softmax on these features stays a linear classifier of the features; what it
gains over HOG (about 8 points on FER2013, docs/results.md) comes from a dictionary of local
patterns learned from the training faces themselves.

Fitting, on training images only (:func:`fit_kmeans`):

1. ``n_patches`` random ``p x p`` patches (image and position drawn with
   ``numpy.random.default_rng(seed)``);
2. each patch :math:`x \\in \\mathbb{R}^{p^2}` normalized for brightness and contrast,
   :math:`\\tilde x = (x - \\bar x) / \\sqrt{\\operatorname{var}(x) + 10}` (grey levels 0..255);
3. ZCA whitening, :math:`W = V (\\Lambda + \\epsilon I)^{-1/2} V^\\top` from the eigen
   decomposition :math:`V \\Lambda V^\\top` of the patches' covariance, around their mean
   :math:`m`: :math:`w = (\\tilde x - m) W`;
4. ``n_iter`` Lloyd iterations of k-means with ``n_centroids`` centroids :math:`c_k`,
   started from distinct random patches; an empty cluster is re-seeded with the patch
   farthest from its centroid (then the next farthest, ...), so the result only depends
   on the seed.

Encoding (:func:`kmeans_features`): every patch position (``stride`` apart) gets the
"triangle" activations :math:`f_k = \\max(0, \\mu(z) - z_k)`, with :math:`z_k = \\|w - c_k\\|`
and :math:`\\mu(z)` their mean over :math:`k`; activations are summed over a
``pool_grid x pool_grid`` grid of regions of the position map (split as evenly as
possible), and the square root of each sum is the feature. Features are ordered
(region row, region column, centroid).

``flip="average"`` makes each feature the mean of the face's and its mirror image's:
the patches' mean and whitening are estimated on the patches and their mirror images
(and made exactly symmetric), k-means learns ``n_centroids / 2`` centroids on both
(:func:`lloyd_kmeans` with ``mirror``) and adds their mirror images, and the pooling
regions are mirror-symmetric (43 positions: 14, 15, 14). The mirror image of a face then
has the activations of the face, with mirrored centroids in mirrored regions, so its
features need no second encoding: feature (r, c, k) is the mean of the face's
(r, c, k) and (r, g-1-c, k + K/2), ``n_centroids / 2`` per region. A linear model on
these averaged features is the model trained on both views (the convex objective is
symmetric, so its optimum is) that averages the two views' scores at test time.

The encoding is a matrix product (positions x centroids) per image, of a fixed shape, and
one compiled pass per position, so one image gives the same bits whether it is encoded
alone (a served model) or among 35,887 (the data stage). Images are encoded by
``n_threads`` threads, each with single-threaded BLAS (numpy and the numba pass release
the GIL), in float32, 256 patch positions at a time: the (positions x centroids)
distances never exist beyond one block of 256 x 800 (0.8 MB, within a core's L2 cache)
per thread, and are turned into triangle activations and pooled at once
(:func:`_triangle_pool`). Memory is the output plus ~20 MB per thread.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from logreg.data.faces.fer_format import IMAGE_SHAPE

_CONTRAST_REGULARIZER = 10.0  # Coates & Ng: var + 10 for grey levels 0..255
_IMAGES_PER_TASK = 64  # unit of work of a thread: small, so the two threads stay balanced
_POSITIONS_PER_BLOCK = 256  # 256 x 800 float32 distances: 0.8 MB
_FIT_CHUNK = 8192  # patches per distance block while fitting (8192 x K float32)
FLIPS = ("none", "average")


@dataclass(frozen=True)
class KmeansParams:
    """The k-means feature layout and how its dictionary is learned.

    The defaults are Coates & Ng's (6x6 patches at every position, 800 centroids by 10
    iterations on 100,000 patches, whitening epsilon 0.1) but pooled over a 3x3 grid
    instead of the four quadrants: 7,200 features, which reach 0.553 on FER2013's
    PrivateTest where the quadrants reach 0.540 (docs/results.md, the feature ladder).
    ``flip="average"`` averages every feature over the face and its mirror image (see the
    module docstring; the workflow's default, with 1,600 centroids); ``"none"``, the
    default here, is what dictionaries saved before the option describe.
    """

    patch_size: int = 6
    n_centroids: int = 800
    whitening_epsilon: float = 0.1
    pool_grid: int = 3
    stride: int = 1
    n_patches: int = 100_000
    n_iter: int = 10
    seed: int = 0
    flip: str = "none"

    def __post_init__(self) -> None:
        for name in ("patch_size", "n_centroids", "pool_grid", "stride", "n_patches", "n_iter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        epsilon = self.whitening_epsilon
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"whitening_epsilon must be a positive number, got {epsilon!r}")
        side = IMAGE_SHAPE[0]
        if self.patch_size > side:
            raise ValueError(f"patch_size {self.patch_size} is larger than the {side}x{side} image")
        if self.pool_grid > self.n_positions:
            raise ValueError(
                f"pool_grid {self.pool_grid} is finer than the {self.n_positions} patch "
                f"positions across the image (patch_size {self.patch_size}, stride {self.stride})"
            )
        if self.n_centroids < 2:
            raise ValueError(f"n_centroids must be at least 2, got {self.n_centroids}")
        if self.n_patches < self.n_centroids:
            raise ValueError(
                f"n_patches ({self.n_patches}) must be at least n_centroids ({self.n_centroids})"
            )
        if self.flip not in FLIPS:
            raise ValueError(f"flip must be one of {', '.join(FLIPS)}, got {self.flip!r}")
        if self.flip == "average":
            if self.n_centroids % 2:
                raise ValueError(
                    f"n_centroids {self.n_centroids} is odd: flip average needs "
                    f"mirror-image pairs of centroids"
                )
            if (side - self.patch_size) % self.stride:
                raise ValueError(
                    f"stride {self.stride} does not divide {side} - patch_size "
                    f"{self.patch_size}: flip average needs patch positions that mirror "
                    f"onto each other"
                )

    @property
    def n_positions(self) -> int:
        """Patch positions along each side of the image."""
        return (IMAGE_SHAPE[0] - self.patch_size) // self.stride + 1

    @property
    def n_codes(self) -> int:
        """Features per pooling region: the centroids, or their mirror-image pairs."""
        return self.n_centroids // 2 if self.flip == "average" else self.n_centroids

    @property
    def n_features(self) -> int:
        return self.pool_grid**2 * self.n_codes

    def to_dict(self) -> dict:
        types = {"whitening_epsilon": float, "flip": str}
        return {k: types.get(k, int)(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class KmeansDictionary:
    """A fitted dictionary: what :func:`kmeans_features` needs besides the images.

    Attributes
    ----------
    params : KmeansParams
    patch_mean : ndarray of float32, shape (p*p,)
        Mean :math:`m` of the normalized training patches.
    whitening : ndarray of float32, shape (p*p, p*p)
        The ZCA matrix :math:`W` (symmetric).
    centroids : ndarray of float32, shape (n_centroids, p*p)
        In whitened patch space.
    """

    params: KmeansParams
    patch_mean: np.ndarray
    whitening: np.ndarray
    centroids: np.ndarray


def _patch_rows(images: np.ndarray, params: KmeansParams) -> np.ndarray:
    """(n, 48, 48) float32 -> (n, positions**2, p*p) patches (a copy), row-major positions."""
    p, s = params.patch_size, params.stride
    windows = sliding_window_view(images, (p, p), axis=(1, 2))[:, ::s, ::s]
    return windows.reshape(images.shape[0], -1, p * p)


def _normalize_patches(patches: np.ndarray) -> np.ndarray:
    """Brightness and contrast normalization of each patch (last axis), in place."""
    patches -= patches.mean(axis=-1, keepdims=True)
    variance = np.mean(patches * patches, axis=-1, keepdims=True)
    patches /= np.sqrt(variance + _CONTRAST_REGULARIZER)
    return patches


def _sample_patches(train_pixels: np.ndarray, params: KmeansParams, rng) -> np.ndarray:
    """``n_patches`` normalized random patches of the training images, float64."""
    n_images = train_pixels.shape[0]
    if n_images == 0:
        raise ValueError("cannot fit k-means features on an empty training split")
    p, s = params.patch_size, params.stride
    image = rng.integers(n_images, size=params.n_patches)
    row = rng.integers(params.n_positions, size=params.n_patches) * s
    col = rng.integers(params.n_positions, size=params.n_patches) * s
    images = np.asarray(train_pixels).reshape(-1, *IMAGE_SHAPE)
    offsets = np.arange(p)
    patches = images[
        image[:, None, None],
        (row[:, None] + offsets)[:, :, None],
        (col[:, None] + offsets)[:, None],
    ]
    return _normalize_patches(patches.reshape(params.n_patches, p * p).astype(np.float64))


def zca_whitening(patches: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ZCA matrix :math:`V (\\Lambda + \\epsilon I)^{-1/2} V^\\top` of ``patches``.

    Parameters
    ----------
    patches : ndarray, shape (n, d)
    epsilon : float

    Returns
    -------
    mean : ndarray, shape (d,)
    whitening : ndarray, shape (d, d)
        Symmetric; ``(patches - mean) @ whitening`` has covariance
        :math:`V \\Lambda (\\Lambda + \\epsilon I)^{-1} V^\\top`.
    """
    mean = patches.mean(axis=0)
    centred = patches - mean
    covariance = centred.T @ centred / patches.shape[0]
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, 0.0)  # rounding can make a zero slightly negative
    whitening = (eigenvectors / np.sqrt(eigenvalues + epsilon)) @ eigenvectors.T
    return mean, whitening


def lloyd_kmeans(
    points: np.ndarray,
    n_clusters: int,
    n_iter: int,
    rng: np.random.Generator,
    mirror: np.ndarray | None = None,
) -> np.ndarray:
    """k-means by Lloyd iterations from ``n_clusters`` distinct random points.

    An empty cluster takes the point farthest from its centroid (the second empty
    cluster the second farthest, ...): deterministic given ``rng``.

    With ``mirror`` (a permutation of the coordinates that is its own inverse, such as a
    patch's left-right flip), k-means runs on the points together with their mirror
    images, with centroids in mirror-image pairs: centroid ``k + n_clusters/2`` is
    centroid ``k`` with its coordinates permuted. The mirror image of a point is nearest
    to the mirror of the point's centroid, so one assignment of the points themselves
    serves both: centroid ``k`` is the mean of the points assigned to it and of the
    mirrored points assigned to its mirror.

    Parameters
    ----------
    points : ndarray of float64, shape (n, d)
    n_clusters, n_iter : int
        ``n_clusters`` even with ``mirror``.
    rng : numpy.random.Generator
    mirror : ndarray of int, shape (d,), optional

    Returns
    -------
    ndarray of float64, shape (n_clusters, d)
    """
    n = points.shape[0]
    if n < n_clusters:
        raise ValueError(f"cannot find {n_clusters} clusters among {n} points")
    free = n_clusters if mirror is None else n_clusters // 2
    centroids = points[np.sort(rng.choice(n, size=free, replace=False))].copy()
    squared_norms = np.einsum("ij,ij->i", points, points)
    columns = np.ascontiguousarray(points.T)
    points32 = points.astype(np.float32)  # the assignment's matrix products, at twice the speed

    def complete(free_centroids):
        if mirror is None:
            return free_centroids
        return np.concatenate([free_centroids, free_centroids[:, mirror]])

    for _ in range(n_iter):
        label, distance = _assign(points32, squared_norms, complete(centroids))
        counts = np.bincount(label, minlength=n_clusters)
        sums = np.stack(
            [np.bincount(label, weights=column, minlength=n_clusters) for column in columns],
            axis=1,
        )
        if mirror is not None:
            counts = counts[:free] + counts[free:]
            sums = sums[:free] + sums[free:][:, mirror]
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
        empty = np.flatnonzero(~nonempty)
        if empty.size:
            farthest = np.argsort(-distance, kind="stable")[: empty.size]
            centroids[empty] = points[farthest]
    return complete(centroids)


def patch_mirror(patch_size: int) -> np.ndarray:
    """The left-right flip of a row-major ``p x p`` patch as a permutation of its pixels."""
    return np.arange(patch_size * patch_size).reshape(patch_size, patch_size)[:, ::-1].ravel()


def _assign(points, squared_norms, centroids) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each point and the squared distance to it."""
    half_norms = (0.5 * np.einsum("ij,ij->i", centroids, centroids)).astype(np.float32)
    centroids = centroids.astype(np.float32)
    label = np.empty(points.shape[0], np.int64)
    distance = np.empty(points.shape[0])
    for i in range(0, points.shape[0], _FIT_CHUNK):
        # argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 / 2 - x.c_k): one matrix product.
        scores = half_norms - points[i : i + _FIT_CHUNK] @ centroids.T
        label[i : i + _FIT_CHUNK] = best = scores.argmin(axis=1)
        picked = scores[np.arange(best.size), best]
        distance[i : i + _FIT_CHUNK] = np.maximum(squared_norms[i : i + _FIT_CHUNK] + 2 * picked, 0)
    return label, distance


def fit_kmeans(train_pixels, params: KmeansParams = KmeansParams()) -> KmeansDictionary:
    """Learn the whitening and the centroids from training images.

    Parameters
    ----------
    train_pixels : array_like, shape (n_train, 2304)
        Raw grey levels 0..255 of the training split.
    params : KmeansParams

    Returns
    -------
    KmeansDictionary
    """
    rng = np.random.default_rng(params.seed)
    patches = _sample_patches(np.asarray(train_pixels), params, rng)
    mirror = patch_mirror(params.patch_size) if params.flip == "average" else None
    if mirror is None:
        mean, whitening = zca_whitening(patches, params.whitening_epsilon)
    else:
        # The statistics of the patches and their mirror images, made exactly symmetric
        # (a + b == b + a in floating point): whitening then commutes with the flip.
        mean, whitening = zca_whitening(
            np.concatenate([patches, patches[:, mirror]]), params.whitening_epsilon
        )
        mean = (mean + mean[mirror]) / 2
        whitening = (whitening + whitening[mirror][:, mirror]) / 2
    whitened = (patches - mean) @ whitening
    centroids = lloyd_kmeans(whitened, params.n_centroids, params.n_iter, rng, mirror)
    return KmeansDictionary(
        params,
        mean.astype(np.float32),
        whitening.astype(np.float32),
        centroids.astype(np.float32),
    )


def _regions(params: KmeansParams) -> np.ndarray:
    """The pooling region (0..pool_grid-1) of each patch position along one side.

    As even as possible; with ``flip="average"`` also mirror-symmetric (43 positions in
    3 regions: 14, 15, 14 instead of 15, 14, 14), so that the mirror image of a region
    is a region.
    """
    n, g = params.n_positions, params.pool_grid
    if params.flip == "none":
        return np.concatenate(
            [np.full(len(part), i) for i, part in enumerate(np.array_split(np.arange(n), g))]
        )
    # Each position by its centre, the right half as the mirror of the left half.
    region = (g * (2 * np.arange(n) + 1)) // (2 * n)
    right = np.arange(n) > (n - 1) / 2
    region[right] = g - 1 - region[n - 1 - np.flatnonzero(right)]
    return region


def _position_cells(params: KmeansParams) -> np.ndarray:
    """(positions**2,) int64: the pooling region (row-major in the grid) of each position."""
    g = params.pool_grid
    region = _regions(params)
    return (region[:, None] * g + region[None, :]).ravel().astype(np.int64)


@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz", "contract"})
def _triangle_pool(z, cells, pooled):  # pragma: no cover - compiled
    """Squared distances ``z`` (m, K) -> triangle activations added into ``pooled[cell]``.

    One fused pass per position, from the L1 cache, instead of numpy's five (clip,
    sqrt, mean, minimum, pooling product). ``reassoc`` lets the mean be summed in SIMD
    lanes: the order is fixed by the compiled code, so an image gives the same bits
    alone or in a batch. ``z`` is overwritten with the distances.
    """
    m, k_total = z.shape
    zero = np.float32(0.0)
    for i in range(m):
        row = z[i]
        total = zero
        for k in range(k_total):
            distance = np.sqrt(max(row[k], zero))  # max: rounding can give -1e-7
            row[k] = distance
            total += distance
        mean = total / np.float32(k_total)
        target = pooled[cells[i]]
        for k in range(k_total):
            activation = mean - row[k]
            if activation > zero:
                target[k] += activation


class _Encoder:
    """The per-image encoding, with the matrices it reuses (float32)."""

    def __init__(self, dictionary: KmeansDictionary) -> None:
        self.params = dictionary.params
        centroids = dictionary.centroids
        d = centroids.shape[1]
        # Squared distances in one product: [w, |w|^2, 1] @ [[-2 C^T], [1], [|c|^2]].
        self.distance_matrix = np.empty((d + 2, centroids.shape[0]), np.float32)
        self.distance_matrix[:d] = -2.0 * centroids.T
        self.distance_matrix[d] = 1.0
        self.distance_matrix[d + 1] = np.einsum("ij,ij->i", centroids, centroids)
        self.patch_mean = dictionary.patch_mean
        self.whitening = dictionary.whitening
        self.cells = _position_cells(self.params)
        g, half = self.params.pool_grid, centroids.shape[0] // 2
        # flip="average": region (r, c) with centroid k pairs with region (r, g-1-c) with
        # centroid k + K/2, its mirror image.
        self.mirrored_regions = np.arange(g * g).reshape(g, g)[:, ::-1].ravel()
        self.half = half if self.params.flip == "average" else None

    def encode(self, pixels: np.ndarray, out: np.ndarray) -> None:
        """Features of ``pixels`` (m, 2304) into ``out`` (m, n_features), one image at a time."""
        images = pixels.reshape(-1, *IMAGE_SHAPE).astype(np.float32)
        patches = _normalize_patches(_patch_rows(images, self.params))
        patches -= self.patch_mean
        n_positions, d = patches.shape[1:]
        augmented = np.empty((n_positions, d + 2), np.float32)
        augmented[:, d + 1] = 1.0
        block = np.empty((_POSITIONS_PER_BLOCK, self.distance_matrix.shape[1]), np.float32)
        pooled = np.empty((self.params.pool_grid**2, block.shape[1]), np.float32)
        for i in range(images.shape[0]):
            whitened = augmented[:, :d]
            np.matmul(patches[i], self.whitening, out=whitened)
            np.einsum("ij,ij->i", whitened, whitened, out=augmented[:, d])
            pooled[...] = 0.0
            # Blocks of positions whose distances fit in a core's L2 cache: the fused
            # pass over them runs from cache, not from memory.
            for start in range(0, n_positions, _POSITIONS_PER_BLOCK):
                stop = min(start + _POSITIONS_PER_BLOCK, n_positions)
                z = block[: stop - start]
                np.matmul(augmented[start:stop], self.distance_matrix, out=z)
                _triangle_pool(z, self.cells[start:stop], pooled)
            np.sqrt(pooled, out=pooled)
            if self.half is None:
                out[i] = pooled.ravel()
            else:
                h = self.half
                mirrored = pooled[self.mirrored_regions, h:]
                out[i] = ((pooled[:, :h] + mirrored) * np.float32(0.5)).ravel()


def kmeans_features(
    pixels,
    dictionary: KmeansDictionary,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Pooled triangle k-means features of flattened 48x48 images.

    Parameters
    ----------
    pixels : array_like, shape (n, 2304)
        Grey levels (uint8 or float), row-major 48x48 images.
    dictionary : KmeansDictionary
        From :func:`fit_kmeans`.
    out : ndarray of float32, shape (n, n_features), optional
        Written in place (e.g. a column block of a wider feature matrix).
    n_threads : int, optional
        Threads encoding images in parallel; default: the CPUs this process may use.

    Returns
    -------
    ndarray of float32, shape (n, dictionary.params.n_features)
    """
    pixels = np.asarray(pixels)
    n = pixels.shape[0]
    if out is None:
        out = np.empty((n, dictionary.params.n_features), np.float32)
    encoder = _Encoder(dictionary)
    n_threads = n_threads or len(os.sched_getaffinity(0))
    starts = range(0, n, _IMAGES_PER_TASK)

    def task(start: int) -> None:
        stop = start + _IMAGES_PER_TASK
        encoder.encode(pixels[start:stop], out[start:stop])

    # One BLAS thread per encoding thread: the threads already fill the cores, and the
    # fused triangle pass (one core each) costs about as much as the matrix products.
    with threadpool_limits(limits=1, user_api="blas"):
        if n_threads == 1 or n <= _IMAGES_PER_TASK:
            for start in starts:
                task(start)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(task, starts))
    return out


def centroid_mosaic(dictionary: KmeansDictionary, scale: int = 4, gap: int = 1) -> np.ndarray:
    """The centroids as a grid of small grey patches, each stretched to its own range.

    Returns
    -------
    ndarray of uint8, shape (rows * (p*scale + gap) + gap, cols * (p*scale + gap) + gap)
    """
    p = dictionary.params.patch_size
    centroids = dictionary.centroids.astype(np.float64)
    k = centroids.shape[0]
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    low = centroids.min(axis=1, keepdims=True)
    span = centroids.max(axis=1, keepdims=True) - low
    scaled = (centroids - low) / np.where(span > 0, span, 1.0)
    side = p * scale + gap
    mosaic = np.full((rows * side + gap, cols * side + gap), 255, np.uint8)
    for index, patch in enumerate(scaled):
        r, c = divmod(index, cols)
        tile = np.kron(patch.reshape(p, p), np.ones((scale, scale)))
        mosaic[gap + r * side : (r + 1) * side, gap + c * side : (c + 1) * side] = np.round(
            255 * tile
        ).astype(np.uint8)
    return mosaic


def save_mosaic(path: str | os.PathLike, dictionary: KmeansDictionary) -> None:
    """Write :func:`centroid_mosaic` as a PNG."""
    from PIL import Image

    Image.fromarray(centroid_mosaic(dictionary)).save(path, format="PNG")


def region_weights(weights: np.ndarray, params: KmeansParams) -> np.ndarray:
    """Mean weight over the centroids of each pooling region: shape (pool_grid, pool_grid).

    Positive: activity of that region of the face pushes towards the class.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (params.n_features,):
        raise ValueError(f"expected {params.n_features} k-means weights, got shape {weights.shape}")
    return weights.reshape(params.pool_grid, params.pool_grid, params.n_codes).mean(axis=2)


def region_image(weights: np.ndarray, params: KmeansParams) -> np.ndarray:
    """:func:`region_weights` painted over the 48x48 image: each region's patch centres."""
    grid = region_weights(weights, params)
    n, p, s = params.n_positions, params.patch_size, params.stride
    region = _regions(params)
    # Pixel -> the region of the nearest patch centre along each axis.
    centres = np.arange(n) * s + (p - 1) / 2
    nearest = np.abs(np.arange(IMAGE_SHAPE[0])[:, None] - centres[None, :]).argmin(axis=1)
    along = region[nearest]
    return grid[along[:, None], along[None, :]]
