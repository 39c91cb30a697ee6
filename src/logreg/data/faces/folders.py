"""Reader of the image-folder layout of FER2013: ``<root>/{train,test}/<emotion>/*.png|jpg``.

This is how most copies are downloaded today (e.g. Kaggle's "FER-2013" by msambare).
Folder names are matched case-insensitively to the seven emotions; images are read
with Pillow, converted to 8-bit grey and must be 48x48.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from logreg.data.faces.fer_format import CLASS_NAMES, IMAGE_SHAPE, N_PIXELS
from logreg.errors import DataError

log = logging.getLogger(__name__)

FOLDER_SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_EMOTIONS = {name.lower(): label for label, name in enumerate(CLASS_NAMES)}


@dataclass
class FolderImages:
    """The images of one split folder, in (label, file name) order.

    Attributes
    ----------
    pixels : ndarray of uint8, shape (n_images, 2304)
    labels : ndarray of int64, shape (n_images,)
    files : list of str
        Paths relative to the root, e.g. ``train/happy/im12.png``.
    """

    pixels: np.ndarray
    labels: np.ndarray
    files: list[str] = field(default_factory=list)


def _child_dir(parent: Path, name: str, what: str) -> Path:
    """The sub-folder of ``parent`` called ``name``, ignoring case."""
    matches = [p for p in parent.iterdir() if p.is_dir() and p.name.lower() == name]
    if len(matches) > 1:
        raise DataError(
            f"{what} folders {sorted(p.name for p in matches)} differ only in case; keep one",
            where=parent,
        )
    if not matches:
        raise DataError(
            f"no {name}/ folder: expected the layout <root>/{{train,test}}/<emotion>/*.png|jpg",
            where=parent,
        )
    return matches[0]


def is_image_folder_root(path: str | os.PathLike) -> bool:
    """True if ``path`` is a folder with ``train`` and ``test`` sub-folders (any case)."""
    path = Path(path)
    if not path.is_dir():
        return False
    names = {p.name.lower() for p in path.iterdir() if p.is_dir()}
    return set(FOLDER_SPLITS) <= names


def _list_images(split_dir: Path) -> list[tuple[Path, int]]:
    found, ignored = [], 0
    seen: dict[int, str] = {}
    for sub in sorted(split_dir.iterdir()):
        if sub.name.startswith("."):
            continue
        if not sub.is_dir():
            ignored += 1
            continue
        label = _EMOTIONS.get(sub.name.lower())
        if label is None:
            raise DataError(
                f"unknown emotion folder {sub.name!r}: expected one of "
                f"{', '.join(_EMOTIONS)} (any case)",
                where=split_dir,
            )
        if label in seen:
            raise DataError(
                f"emotion folders {seen[label]!r} and {sub.name!r} differ only in case; keep one",
                where=split_dir,
            )
        seen[label] = sub.name
        for file in sorted(sub.iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                found.append((file, label))
            elif not file.name.startswith("."):
                ignored += 1
    if ignored:
        log.warning(
            "%s: ignored %d entries that are not <emotion>/*.png|jpg|jpeg", split_dir, ignored
        )
    missing = [CLASS_NAMES[k] for k in range(len(CLASS_NAMES)) if k not in seen]
    if missing:
        log.warning("%s: no images of %s", split_dir, ", ".join(missing))
    return sorted(found, key=lambda item: (item[1], item[0].name))


def read_image(data: bytes, path: str | os.PathLike) -> np.ndarray:
    """Decode one face image to 2,304 grey levels (row-major 48x48).

    Parameters
    ----------
    data : bytes
        The file's content (PNG, JPEG or anything Pillow reads).
    path : path-like
        Named in error messages.

    Returns
    -------
    ndarray of uint8, shape (2304,)

    Raises
    ------
    DataError
        If Pillow cannot decode it, or it is not 48x48.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            gray = image.convert("L") if size == IMAGE_SHAPE[::-1] else None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise DataError(f"cannot read the image ({exc})", where=path) from None
    if gray is None:
        raise DataError(
            f"image is {size[0]}x{size[1]} pixels, expected {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}",
            where=path,
        )
    return np.asarray(gray, dtype=np.uint8).reshape(N_PIXELS)


def _manifest_line(relative: str, data: bytes) -> bytes:
    return f"{relative}\t{hashlib.sha256(data).hexdigest()}\n".encode()


def folder_digest(root: str | os.PathLike) -> str:
    """The fingerprint :func:`read_fer_folders` records for ``root``, without decoding images.

    Used to check that a folder still holds the data a run was prepared from.
    """
    root = Path(root)
    manifest = hashlib.sha256()
    for split in FOLDER_SPLITS:
        for file, _ in _list_images(_child_dir(root, split, "split")):
            manifest.update(_manifest_line(file.relative_to(root).as_posix(), file.read_bytes()))
    return manifest.hexdigest()


def read_fer_folders(
    root: str | os.PathLike, *, skip_bad_files: bool = False
) -> tuple[dict[str, FolderImages], list[tuple[str, str]], str]:
    """Read ``<root>/train`` and ``<root>/test``.

    Parameters
    ----------
    root : path-like
        Folder with ``train/`` and ``test/``, each holding one folder per emotion
        (angry, disgust, fear, happy, sad, surprise, neutral; any case) of images.
    skip_bad_files : bool
        Skip unreadable or wrongly sized images (reported) instead of raising.

    Returns
    -------
    images : dict
        ``{"train": FolderImages, "test": FolderImages}``.
    skipped : list of (str, str)
        Relative path and message of each skipped image.
    digest : str
        sha256 over the sorted ``relative path <TAB> sha256 of the file`` lines: one
        fingerprint of the whole tree.

    Raises
    ------
    DataError
        Naming the file or folder: unknown emotion folder, missing split folder,
        unreadable or non-48x48 image, a split without images.
    """
    root = Path(root)
    listing = {split: _list_images(_child_dir(root, split, "split")) for split in FOLDER_SPLITS}
    n_files = sum(len(files) for files in listing.values())
    manifest = hashlib.sha256()
    skipped: list[tuple[str, str]] = []
    images = {}
    progress = tqdm(
        total=n_files, desc="reading face images", unit="img", disable=not sys.stderr.isatty()
    )
    with progress:
        for split, files in listing.items():
            pixels = np.empty((len(files), N_PIXELS), dtype=np.uint8)
            keep = np.ones(len(files), dtype=bool)
            for i, (file, _) in enumerate(files):
                relative = file.relative_to(root).as_posix()
                data = file.read_bytes()
                manifest.update(_manifest_line(relative, data))
                try:
                    pixels[i] = read_image(data, file)
                except DataError as exc:
                    if not skip_bad_files:
                        raise
                    keep[i] = False
                    skipped.append((relative, str(exc)))
                progress.update()
            labels = np.array([label for _, label in files], dtype=np.int64)
            kept = [file.relative_to(root).as_posix() for (file, _), k in zip(files, keep) if k]
            images[split] = FolderImages(pixels[keep], labels[keep], kept)
            if not kept:
                raise DataError(f"no readable .png/.jpg images in {split}/<emotion>/", where=root)
    return images, skipped, manifest.hexdigest()
