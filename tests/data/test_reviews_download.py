"""The download rule's code, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from logreg.data.reviews.demo import write_demo_data
from logreg.data.reviews.download import bundled_checksums, download_reviews, read_checksums
from logreg.errors import ConfigError, DataError, UserError
from logreg.fileio import sha256_file
from paths import SHARED_DATA as DATA

DOMAINS = ["electronics", "kitchen_&_housewares"]
ARCHIVE = "domain_sentiment_data.tar.gz"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path / "www"`` on a free port of 127.0.0.1; yield (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """Small generated review files of three domains, and their sha256 sums."""
    root = tmp_path_factory.mktemp("raw")
    write_demo_data(root, [*DOMAINS, "books"], seed=5, n_per_file=4)
    files = {f"sorted_data_acl/{p.parent.name}/{p.name}": p for p in root.rglob("*.review")}
    return files, {key: sha256_file(path) for key, path in files.items()}


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def build_archive(
    path: Path, files: dict[str, Path], prefix: str = "", extra=lambda tar: None
) -> None:
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, prefix + "sorted_data/electronics/all.review", b"<review>\n")
        for key, source in sorted(files.items()):
            tar.add(source, arcname=prefix + key)
        extra(tar)


def write_sums(path: Path, sums: dict[str, str]) -> Path:
    path.write_text("".join(f"{digest}  {key}\n" for key, digest in sums.items()))
    return path


@pytest.mark.parametrize("prefix", ["", "./", "domain_sentiment_data/"])
def test_downloads_extracts_only_the_wanted_files_and_verifies_them(
    server, reviews, tmp_path, prefix
):
    www, url = server
    files, sums = reviews
    # A member climbing out of the archive's root under a wanted name is never used.
    build_archive(
        www / ARCHIVE,
        files,
        prefix,
        extra=lambda tar: add_bytes(
            tar, "../sorted_data_acl/electronics/positive.review", b"outside"
        ),
    )
    out = tmp_path / "out" / "sorted_data_acl"
    written = download_reviews(
        out, DOMAINS, write_sums(tmp_path / "sums", sums), url=f"{url}/{ARCHIVE}"
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        k.split("/", 1)[1] for k in files if "books" not in k
    )
    assert set(written) == {p for p in out.rglob("*.review")}
    for path in written:
        key = f"sorted_data_acl/{path.parent.name}/{path.name}"
        assert path.read_bytes() == files[key].read_bytes()
    assert not (tmp_path / "sorted_data_acl").exists()
    assert sorted(p.name for p in out.iterdir()) == DOMAINS  # no temporary left behind


def test_a_checksum_mismatch_writes_nothing(server, reviews, tmp_path):
    www, url = server
    files, sums = reviews
    build_archive(www / ARCHIVE, files)
    key = "sorted_data_acl/kitchen_&_housewares/positive.review"
    wrong = {**sums, key: hashlib.sha256(b"another file").hexdigest()}
    out = tmp_path / "out"
    with pytest.raises(
        DataError,
        match=rf"sha256 mismatch for {key}: expected "
        rf"{wrong[key]}, got {sums[key]}",
    ):
        download_reviews(out, DOMAINS, write_sums(tmp_path / "sums", wrong), url=f"{url}/{ARCHIVE}")
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_links_in_place_of_review_files_are_refused(server, reviews, tmp_path):
    www, url = server
    files, sums = reviews
    wanted = {k: v for k, v in files.items() if k != "sorted_data_acl/electronics/negative.review"}

    def add_link(tar):
        info = tarfile.TarInfo("sorted_data_acl/electronics/negative.review")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    build_archive(www / ARCHIVE, wanted, extra=add_link)
    with pytest.raises(
        DataError,
        match=r"member sorted_data_acl/electronics/negative.review "
        r"is not a regular file",
    ):
        download_reviews(
            tmp_path / "out", DOMAINS, write_sums(tmp_path / "sums", sums), url=f"{url}/{ARCHIVE}"
        )
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_missing_member_is_named(server, reviews, tmp_path):
    www, url = server
    files, sums = reviews
    build_archive(www / ARCHIVE, {k: v for k, v in files.items() if "kitchen" not in k})
    with pytest.raises(
        DataError,
        match=r"the archive lacks sorted_data_acl/kitchen_&_"
        r"housewares/negative.review",
    ):
        download_reviews(
            tmp_path / "out", DOMAINS, write_sums(tmp_path / "sums", sums), url=f"{url}/{ARCHIVE}"
        )


def test_server_errors_and_non_archives_fail_clearly(server, reviews, tmp_path):
    www, url = server
    _, sums = reviews
    checksums = write_sums(tmp_path / "sums", sums)
    with pytest.raises(UserError, match=r"/missing.tar.gz: download failed: HTTP 404"):
        download_reviews(tmp_path / "out", DOMAINS, checksums, url=f"{url}/missing.tar.gz")
    (www / "page.html").write_text("<html>Moved</html>")
    with pytest.raises(DataError, match=r"not a readable tar.gz archive"):
        download_reviews(tmp_path / "out", DOMAINS, checksums, url=f"{url}/page.html")
    with pytest.raises(UserError, match=r"must start with http:// or https://"):
        download_reviews(tmp_path / "out", DOMAINS, checksums, url="file:///etc/passwd")
    with pytest.raises(
        ConfigError,
        match=r"no recorded sha256 for sorted_data_acl/dvd/"
        r"negative.review",
    ):
        download_reviews(tmp_path / "out", ["dvd"], checksums, url=f"{url}/{ARCHIVE}")
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_bundled_checksums_list_the_four_known_files():
    sums = read_checksums(bundled_checksums())
    assert sorted(sums) == [
        f"sorted_data_acl/{d}/{p}.review" for d in DOMAINS for p in ("negative", "positive")
    ]
    assert sums["sorted_data_acl/electronics/negative.review"] == (
        "571287120d63e289753231804f33169b2ec4348ca6d24fa0d781a3a08e6376ff"
    )


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "sentiment").is_dir(), reason=f"no real data at {DATA}")
def test_bundled_checksums_match_the_real_files():
    sums = read_checksums(bundled_checksums())
    assert sums == read_checksums(DATA / "sentiment" / "SHA256SUMS")
    for key, digest in sums.items():
        assert sha256_file(DATA / "sentiment" / key) == digest
