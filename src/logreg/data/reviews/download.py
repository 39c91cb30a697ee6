"""Download the original review files and check them against recorded sha256 sums.

The Multi-Domain Sentiment Dataset is published as one archive,
``domain_sentiment_data.tar.gz``. :func:`download_reviews` streams it to a temporary
file, reads only the members ``sorted_data_acl/<domain>/{positive,negative}.review`` of
the requested domains, and writes each to ``<out_dir>/<domain>/`` only after its sha256
matched the sums recorded in the project (``logreg/resources/sorted_data_acl.sha256``,
in ``sha256sum`` format). Extraction is safe by construction: the output path is built
from the domain name, never from a member's name; only regular-file members are read
(no links, devices or directories) and nothing else of the archive is unpacked.
Either every requested file is written or none is.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import os
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from logreg.errors import ConfigError, DataError, UserError
from logreg.fileio import atomic_path

log = logging.getLogger(__name__)

URL = "https://www.cs.jhu.edu/~mdredze/datasets/sentiment/domain_sentiment_data.tar.gz"
#: Largest member read from the archive; the real review files are about 1 MB.
MAX_MEMBER_BYTES = 256 << 20
_CHUNK = 1 << 20
_SUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](\S.*)")


def bundled_checksums() -> Path:
    """Path of the sha256 sums of the known review files shipped with the package."""
    return Path(str(resources.files("logreg") / "resources" / "sorted_data_acl.sha256"))


def read_checksums(path: str | os.PathLike) -> dict[str, str]:
    """Read a ``sha256sum``-format file: ``{relative path: lowercase hex sha256}``."""
    sums = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            match = _SUM_LINE.fullmatch(line)
            if match is None:
                raise DataError(
                    "expected '<64 hex digits>  <path>' (sha256sum format)", where=path, line=lineno
                )
            sums[match.group(2)] = match.group(1).lower()
    return sums


def download_file(url: str, dest: str | os.PathLike, timeout: float = 60.0) -> int:
    """Stream ``url`` (http or https) to ``dest`` atomically; return the bytes written.

    Raises
    ------
    UserError
        For another scheme, an HTTP error status, an unreachable host or a download
        shorter than its announced length. ``dest`` is then left untouched.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UserError(f"download URL must start with http:// or https://, got {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "logreg-reviews"})
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            atomic_path(dest) as tmp,
            open(tmp, "wb") as out,
        ):
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected and expected.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc="download",
                disable=not sys.stderr.isatty(),
            ) as bar:
                size = 0
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
            if total is not None and size != total:
                raise UserError(f"download interrupted: got {size} of {total} bytes", where=url)
    except urllib.error.HTTPError as exc:
        raise UserError(f"download failed: HTTP {exc.code} {exc.reason}", where=url) from exc
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"download failed: {reason}", where=url) from exc
    log.info("downloaded %d bytes from %s", size, url)
    return size


def _wanted_member(name: str, wanted: dict[str, Path]) -> str | None:
    """The checksum key a member name stands for, if it is one of the wanted files.

    Accepts ``sorted_data_acl/<domain>/<file>`` with an optional ``./`` or one leading
    folder; never a name with ``..`` or an absolute one.
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return None
    parts = [p for p in path.parts if p != "."]
    key = "/".join(parts[-3:])
    return key if key in wanted and len(parts) <= 4 else None


def extract_reviews(
    archive: str | os.PathLike, wanted: dict[str, Path], checksums: dict[str, str]
) -> None:
    """Copy the ``wanted`` members (checksum key -> destination) out of a tar.gz archive.

    Every destination is written only if all members were found and every sha256
    matches; otherwise a :class:`DataError` names the member and nothing is written.
    """
    found: dict[str, str] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar, contextlib.ExitStack() as stack:
            for member in tar:
                key = _wanted_member(member.name, wanted)
                if key is None:
                    continue
                if key in found:
                    raise DataError(f"the archive holds {key} twice", where=archive)
                if not member.isreg():
                    raise DataError(
                        f"archive member {member.name} is not a regular file "
                        "(a link or directory); refusing to extract it",
                        where=archive,
                    )
                if member.size > MAX_MEMBER_BYTES:
                    raise DataError(
                        f"archive member {member.name} is {member.size} bytes, "
                        "far larger than a review file",
                        where=archive,
                    )
                tmp = stack.enter_context(atomic_path(wanted[key]))
                digest = hashlib.sha256()
                with tar.extractfile(member) as src, open(tmp, "wb") as dst:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                found[key] = digest.hexdigest()
            missing = sorted(set(wanted) - set(found))
            if missing:
                raise DataError(f"the archive lacks {', '.join(missing)}", where=archive)
            for key, digest in found.items():
                if digest != checksums[key]:
                    raise DataError(
                        f"sha256 mismatch for {key}: expected {checksums[key]}, "
                        f"got {digest}; the download is corrupt or not the "
                        "original release",
                        where=archive,
                    )
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"not a readable tar.gz archive: {exc}", where=archive) from exc


def download_reviews(
    out_dir: str | os.PathLike,
    domains: Sequence[str],
    checksums: str | os.PathLike | None = None,
    url: str = URL,
    timeout: float = 60.0,
) -> list[Path]:
    """Download the release and write ``<out_dir>/<domain>/{positive,negative}.review``.

    Parameters
    ----------
    out_dir : path-like
        Folder to hold one sub-folder per domain (the ``reviews_dir`` to use afterwards).
    domains : sequence of str
        Domains to extract; each needs recorded checksums.
    checksums : path-like, optional
        ``sha256sum``-format file keyed by ``sorted_data_acl/<domain>/<file>``; the
        bundled one by default.
    url : str
        Where the ``.tar.gz`` archive is served.
    timeout : float
        Seconds to wait for the server before giving up.

    Returns
    -------
    list of Path
        The files written, all verified.
    """
    checksums = Path(checksums) if checksums is not None else bundled_checksums()
    sums = read_checksums(checksums)
    wanted = {}
    for domain in domains:
        if "/" in domain or domain in ("", ".", ".."):
            raise ConfigError("review_domains", f"{domain!r} is not a folder name")
        for polarity in ("negative", "positive"):
            key = f"sorted_data_acl/{domain}/{polarity}.review"
            if key not in sums:
                known = sorted({k.split("/")[1] for k in sums if k.count("/") == 2})
                raise ConfigError(
                    "review_domains",
                    f"no recorded sha256 for {key} in "
                    f"{checksums}; domains with recorded sums: {known}",
                )
            wanted[key] = Path(out_dir) / domain / f"{polarity}.review"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download.", dir=out_dir) as tmp:
        archive = Path(tmp) / "domain_sentiment_data.tar.gz"
        download_file(url, archive, timeout)
        extract_reviews(archive, wanted, sums)
    for path in wanted.values():
        log.info("verified %s", path)
    return list(wanted.values())
