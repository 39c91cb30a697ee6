"""Hostile data files through the data stages' command lines.

Each case: one ``error: <file>:<line>: <what>`` line, exit status 2, no partial file
left behind, and the output of an earlier successful run byte-identical afterwards.
Most cases call the entry points' ``main(argv)`` through ``run_cli`` in-process (fast);
the memory and network cases run the real ``python -m ...`` in a subprocess.
"""

from __future__ import annotations

import html
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path

import cases
import numpy as np
import pytest
from harness import error_line, leftovers, record, run, snapshot

from logreg.cli import run_cli
from logreg.data.faces.__main__ import main as faces_main
from logreg.data.prepared import load_prepared
from logreg.data.reviews.__main__ import main as reviews_main
from logreg.errors import DataError

PARSE = [
    "parse",
    "data/dom/positive.review",
    "data/dom/negative.review",
    "--out",
    "out/reviews.parquet",
]
PREPARE = [
    "prepare",
    "--input",
    "data/fer.csv",
    "--out-dir",
    "out/prepared",
    "--normalization",
    "per_pixel",
    "--seed",
    "0",
]
# Runs the command and prints the peak RSS of its process tree (MB) and its exit status.
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, code)\n"
)


def run_cli_error(main, argv, capsys) -> str:
    """Run an entry point that must fail; return its one error line (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        run_cli(main, argv)
    assert info.value.code == 2
    return error_line(capsys.readouterr().err)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.fixture
def parsed_domain(in_tmp):
    """A domain parsed once successfully: out/reviews.parquet exists."""
    write(in_tmp / "data/dom/positive.review", cases.GOOD_POSITIVE)
    write(in_tmp / "data/dom/negative.review", cases.GOOD_NEGATIVE)
    reviews_main(PARSE)
    return in_tmp


@pytest.mark.parametrize("case", cases.REVIEW_CASES, ids=lambda c: c.name)
def test_bad_review_file_is_one_error_and_the_earlier_table_survives(parsed_domain, capsys, case):
    out = parsed_domain / "out"
    before = snapshot(out)
    write(parsed_domain / "data/dom/positive.review", case.content)
    line = run_cli_error(reviews_main, PARSE, capsys)
    assert re.fullmatch(f"error: {case.error}.*", line), line
    assert snapshot(out) == before
    assert leftovers(parsed_domain) == []
    record("Review files", case.what, "python -m logreg.data.reviews " + " ".join(PARSE), line)


def test_a_missing_review_file_names_it(parsed_domain, capsys):
    (parsed_domain / "data/dom/negative.review").unlink()
    line = run_cli_error(reviews_main, PARSE, capsys)
    assert line == (
        "error: data/dom/negative.review: review file not found; expected "
        "<reviews_dir>/<domain>/positive.review and negative.review"
    )
    record(
        "Review files",
        "a domain folder without negative.review",
        "python -m logreg.data.reviews " + " ".join(PARSE),
        line,
    )


def test_the_real_command_line_prints_the_error_and_exits_2(parsed_domain):
    case = cases.REVIEW_CASES[0]
    write(parsed_domain / "data/dom/positive.review", case.content)
    result = run([sys.executable, "-m", "logreg.data.reviews", *PARSE], cwd=parsed_domain)
    assert result.returncode == 2
    assert re.fullmatch(f"error: {case.error}.*", error_line(result.stderr))
    assert "Traceback" not in result.stderr


# The workflow passes every text option: the stages have no defaults of their own.
TEXT_OPTIONS = [
    *("--stopwords", "true", "--bigrams", "false", "--min-count", "2"),
    *("--max-size", "none", "--fields", "title,review_text"),
]
STAGES = {
    "split": [
        "split",
        "--reviews",
        "out/reviews.parquet",
        "--out",
        "out/split.parquet",
        "--test-fraction",
        "0.2",
        "--val-fraction",
        "0.1",
        "--seed",
        "0",
    ],
    "vocabulary": [
        "vocabulary",
        "--reviews",
        "out/reviews.parquet",
        "--split",
        "out/split.parquet",
        "--out",
        "out/vocabulary.tsv",
        *TEXT_OPTIONS,
    ],
    "vectorize": [
        "vectorize",
        "--reviews",
        "out/reviews.parquet",
        "--split",
        "out/split.parquet",
        "--vocabulary",
        "out/vocabulary.tsv",
        "--out-dir",
        "out/prepared",
        "--domain",
        "dom",
        *TEXT_OPTIONS,
        "--weighting",
        "tfidf",
        "--sublinear-tf",
        "false",
    ],
}
OUTPUTS = {"split": "split.parquet", "vocabulary": "vocabulary.tsv", "vectorize": "prepared"}


def _bad_count(path: Path) -> None:
    """Line 2 of a vocabulary TSV with the count ``many``."""
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].rsplit("\t", 1)[0] + "\tmany\n"
    path.write_text("".join(lines))


@pytest.fixture(scope="module")
def staged_once(tmp_path_factory):
    """A domain of 40 reviews taken through every stage once."""
    root = tmp_path_factory.mktemp("stages")
    write(root / "data/dom/positive.review", cases.reviews(20, "p", review_text="great"))
    write(
        root / "data/dom/negative.review",
        cases.reviews(20, "n", rating="1.0", review_text="poor, it broke"),
    )
    absolute = [
        [str(root / a) if a.startswith(("data/", "out/")) else a for a in argv]
        for argv in (PARSE, *STAGES.values())
    ]
    for argv in absolute:
        reviews_main(argv)
    return root


@pytest.mark.parametrize(
    "stage, what, make_bad, expected",
    [
        (
            "split",
            "the reviews table is not Parquet",
            lambda: write(Path("out/reviews.parquet"), b"PAR1 garbage"),
            r"error: out/reviews\.parquet: cannot read the reviews table: .*",
        ),
        (
            "split",
            "the reviews table is missing",
            lambda: Path("out/reviews.parquet").unlink(),
            r"error: out/reviews\.parquet: no such file; run the parse stage first",
        ),
        (
            "vocabulary",
            "the split is missing",
            lambda: Path("out/split.parquet").unlink(),
            r"error: out/split\.parquet: no such file; run the split stage first",
        ),
        (
            "vocabulary",
            "the split file is another table",
            lambda: shutil.copy("out/reviews.parquet", "out/split.parquet"),
            r"error: out/split\.parquet: expected columns unique_id and split with values "
            r"\('train', 'val', 'test'\)",
        ),
        (
            "vectorize",
            "a vocabulary line with a count that is not a number",
            lambda: _bad_count(Path("out/vocabulary.tsv")),
            r"error: out/vocabulary\.tsv:2: index, document_frequency and count must be "
            r"integers: invalid literal for int\(\) with base 10: 'many'",
        ),
        (
            "vectorize",
            "a binary vocabulary file",
            lambda: write(Path("out/vocabulary.tsv"), bytes(range(128, 256))),
            r"error: out/vocabulary\.tsv: cannot read the vocabulary: 'utf-8' codec can't "
            r"decode byte 0x80 in position 0: invalid start byte",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else None,
)
def test_bad_input_of_a_later_stage_keeps_its_earlier_output(
    staged_once, in_tmp, capsys, stage, what, make_bad, expected
):
    shutil.copytree(staged_once / "out", in_tmp / "out")
    before = snapshot(in_tmp / "out")
    make_bad()
    line = run_cli_error(reviews_main, STAGES[stage], capsys)
    assert re.fullmatch(expected, line), line
    after = snapshot(in_tmp / "out")
    output = OUTPUTS[stage]  # the stage's own output, written by the earlier run
    assert {k: v for k, v in after.items() if k.startswith(output)} == {
        k: v for k, v in before.items() if k.startswith(output)
    }
    assert leftovers(in_tmp) == []
    record(
        "Review files",
        f"{stage}: {what}",
        "python -m logreg.data.reviews " + " ".join(STAGES[stage]),
        line,
    )


def _peak_rss(args: list[str], cwd: Path) -> tuple[int, int, str]:
    """(peak RSS in MB, exit status, stderr) of ``python -m args`` in a fresh process."""
    result = run([sys.executable, "-c", _PEAK_RSS, sys.executable, "-m", *args], cwd=cwd)
    peak, code = map(int, result.stdout.split()[-2:])
    return peak, code, result.stderr


@pytest.mark.slow
def test_a_50_mb_review_is_parsed_whole_in_bounded_memory(in_tmp):
    size = 50 << 20
    (in_tmp / "data/dom").mkdir(parents=True)
    n_lines = cases.write_huge_review(in_tmp / "data/dom/positive.review", size)
    write(in_tmp / "data/dom/negative.review", cases.GOOD_NEGATIVE)
    peak, code, stderr = _peak_rss(["logreg.data.reviews", *PARSE], in_tmp)
    assert code == 0, stderr[-2000:]
    # Measured ~490 MB (135 MB of it is the interpreter and its imports): the parser
    # holds a few copies of the one review being decoded, never the whole file.
    assert peak < 1024, f"peak RSS {peak} MB for a {size >> 20} MB review"
    from logreg.data.reviews.parse import read_reviews_table

    table, _ = read_reviews_table(in_tmp / "out/reviews.parquet")
    text = table.loc[table["label"] == 1, "review_text"].item()
    assert text == (html.unescape(cases.HUGE_LINE) * n_lines).strip()  # whole, decoded once


def test_an_entity_bomb_is_refused_before_anything_expands_it(in_tmp):
    bomb = next(c for c in cases.REVIEW_CASES if c.name == "entity-bomb")
    write(in_tmp / "data/dom/positive.review", bomb.content)
    write(in_tmp / "data/dom/negative.review", cases.GOOD_NEGATIVE)
    peak, code, stderr = _peak_rss(["logreg.data.reviews", *PARSE], in_tmp)
    assert code == 2
    assert re.fullmatch(f"error: {bomb.error}.*", error_line(stderr))
    assert peak < 300, f"peak RSS {peak} MB"  # 10^9 "lol"s would be 3 GB


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"pwned")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A local HTTP server recording every request it gets."""
    _Recorder.requests = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", _Recorder.requests
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("where", ["head", "inside-a-review"])
def test_external_entities_are_never_fetched(in_tmp, http_server, where):
    url, requests = http_server
    content = cases.external_entity(url)
    if where == "inside-a-review":  # the declaration hidden in a review's text
        head, body = content.decode().split("]>\n")
        content = (cases.GOOD_POSITIVE + body.replace("&x;", "&x;\n" + head + "]>")).encode()
    write(in_tmp / "data/dom/positive.review", content)
    write(in_tmp / "data/dom/negative.review", cases.GOOD_NEGATIVE)
    result = run([sys.executable, "-m", "logreg.data.reviews", *PARSE], cwd=in_tmp)
    assert result.returncode == 2
    line = error_line(result.stderr)
    assert re.fullmatch(
        r"error: data/dom/positive\.review:\d+: markup declaration "
        r"'<!DOCTYPE r \[' is not allowed.*",
        line,
    )
    assert requests == []
    if where == "head":
        record(
            "Review files",
            "a DOCTYPE declaring an external (SYSTEM) entity",
            "python -m logreg.data.reviews " + " ".join(PARSE),
            line.replace(url, "http://127.0.0.1:PORT/"),
        )


# --- FER2013 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared_once(tmp_path_factory):
    """A FER2013 CSV prepared once successfully (copied into each test's folder)."""
    root = tmp_path_factory.mktemp("fer")
    write(root / "data/fer.csv", "\n".join(cases.fer_lines()) + "\n")
    faces_main(
        [
            "prepare",
            "--input",
            str(root / "data/fer.csv"),
            "--out-dir",
            str(root / "out/prepared"),
            *PREPARE[5:],
        ]
    )
    return root


@pytest.fixture
def prepared_faces(prepared_once, in_tmp):
    shutil.copytree(prepared_once / "out", in_tmp / "out")
    return in_tmp


@pytest.mark.parametrize("case", cases.FER_CASES, ids=lambda c: c.name)
def test_bad_fer_file_is_one_error_and_the_earlier_dataset_survives(prepared_faces, capsys, case):
    out = prepared_faces / "out"
    before = snapshot(out)
    write(prepared_faces / "data/fer.csv", case.content)
    line = run_cli_error(faces_main, PREPARE, capsys)
    assert re.fullmatch(f"error: {case.error}.*", line), line
    assert snapshot(out) == before
    assert leftovers(prepared_faces) == []
    record("FER2013 files", case.what, "python -m logreg.data.faces " + " ".join(PREPARE), line)


def test_bad_rows_can_be_skipped_and_are_reported(prepared_faces, caplog):
    label_7 = next(c for c in cases.FER_CASES if c.name == "label-7")
    write(prepared_faces / "data/fer.csv", label_7.content)
    run_cli(faces_main, [*PREPARE, "--skip-bad-rows"])
    report = load_prepared(prepared_faces / "out/prepared").meta["skipped_rows"]
    assert report["count"] == 1 and report["lines"] == [3]
    assert "fer.csv: skipped 1 invalid rows (lines 3)" in caplog.text


def test_windows_line_endings_give_the_same_dataset(prepared_once, in_tmp):
    write(in_tmp / "data/fer.csv", "\r\n".join(cases.fer_lines()) + "\r\n")
    faces_main(PREPARE)
    lf, crlf = prepared_once / "out/prepared", in_tmp / "out/prepared"
    for name in (
        "X_train.npy",
        "X_val.npy",
        "X_test.npy",
        "y_train.npy",
        "y_val.npy",
        "y_test.npy",
    ):
        assert (lf / name).read_bytes() == (crlf / name).read_bytes(), name


# --- prepared datasets: data, never code ----------------------------------------------


def _pickled(path: Path) -> None:
    np.save(path, np.array([{"__reduce__": "os.system"}, None], dtype=object), allow_pickle=True)


@pytest.mark.parametrize("name", ["X_train.npy", "y_val.npy", "X_test.npz"])
def test_load_prepared_refuses_pickled_or_foreign_arrays(prepared_faces, name):
    folder = prepared_faces / "out/prepared"
    if name.endswith(".npz"):
        (folder / "X_test.npy").unlink()
        write(folder / name, b"PK\x03\x04 not a zip")
    else:
        _pickled(folder / name)
    with pytest.raises(
        DataError,
        match=rf"prepared/{re.escape(name)}: cannot load the array:"
        r" .*never unpickled",
    ):
        load_prepared(folder)


def test_training_on_a_pickled_array_is_a_clear_error(prepared_faces, train_cli):
    _pickled(prepared_faces / "out/prepared/X_train.npy")
    argv = ["experiment=faces_softmax", "dataset.path=out/prepared", "paths.results_dir=results"]
    code, message = train_cli(argv)
    assert code == 2
    assert message == (
        "error: out/prepared/X_train.npy: cannot load the array: Array can't "
        "be memory-mapped: Python objects in dtype; a prepared dataset holds "
        "plain numeric arrays and is never unpickled: rerun the data stage"
    )
    assert not (prepared_faces / "results/mlflow.db").exists()  # failed before any run
    record(
        "Prepared datasets",
        "X_train.npy holds pickled Python objects",
        "python -m logreg.train " + " ".join(argv),
        message,
    )


def test_features_that_disagree_with_the_prepared_folder_are_a_config_error(
    prepared_faces, train_cli
):
    # out/prepared holds pixel features; the faces_softmax_hog preset trains on HOG.
    argv = [
        "experiment=faces_softmax_hog",
        "dataset.path=out/prepared",
        "paths.results_dir=results",
    ]
    code, message = train_cli(argv)
    assert code == 2
    assert message == (
        "error: config key 'dataset.features': got 'hog', but out/prepared "
        "holds 'pixels' features; set dataset.features=pixels or point "
        "dataset.path at a folder prepared with 'hog'"
    )
    assert not (prepared_faces / "results/mlflow.db").exists()  # failed before any run
    record(
        "Prepared datasets",
        "dataset.features disagrees with the prepared folder",
        "python -m logreg.train " + " ".join(argv),
        message,
    )
