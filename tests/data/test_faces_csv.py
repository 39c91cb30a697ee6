"""Reading and validating FER2013 CSV files (.csv and .csv.gz)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from logreg.data.faces.csv_reader import read_fer_csv
from logreg.data.faces.fer_format import RowError, parse_pixel_string, parse_row
from logreg.errors import DataError

HEADER = "emotion,pixels,Usage"


def _row(label, pixels, usage="Training") -> str:
    return f"{label},{' '.join(map(str, pixels))},{usage}"


def _pixels(rng, n=1):
    return rng.integers(0, 256, size=(n, 2304))


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    data = (newline.join(lines) + newline).encode("latin-1")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@pytest.fixture
def table():
    rng = np.random.default_rng(7)
    pixels = _pixels(rng, 9)
    labels = np.arange(9) % 7
    usages = ["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"] * 2
    return pixels, labels, usages


def _lines(table) -> list[str]:
    pixels, labels, usages = table
    return [HEADER] + [_row(k, p, u) for k, p, u in zip(labels, pixels, usages)]


@pytest.mark.parametrize("name", ["fer.csv", "fer.csv.gz"])
def test_reads_csv_and_gzip(tmp_path, table, name):
    path = _write(tmp_path / name, _lines(table))
    rows, digest = read_fer_csv(path)
    pixels, labels, _ = table
    assert rows.pixels.dtype == np.uint8
    np.testing.assert_array_equal(rows.pixels, pixels)
    np.testing.assert_array_equal(rows.labels, labels)
    np.testing.assert_array_equal(rows.usage, [0] * 5 + [1] * 2 + [2] * 2)
    np.testing.assert_array_equal(rows.lines, np.arange(2, 11))
    assert rows.skipped_lines == []
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_windows_line_endings_quotes_bom_and_blank_lines_are_accepted(tmp_path, table):
    lines = _lines(table)
    lines[1] = '"{}","{}","{}"'.format(*lines[1].split(","))  # every field quoted
    lines[2] = lines[2].replace(" ", "  ", 3)  # extra spaces between values
    lines.insert(4, "")
    path = tmp_path / "fer.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())
    rows, _ = read_fer_csv(path)
    np.testing.assert_array_equal(rows.pixels, table[0])
    np.testing.assert_array_equal(rows.lines, [2, 3, 4, 6, 7, 8, 9, 10, 11])


def test_a_file_without_final_newline_is_read(tmp_path, table):
    path = tmp_path / "fer.csv"
    path.write_text("\n".join(_lines(table)))
    rows, _ = read_fer_csv(path)
    assert len(rows.labels) == 9


def _set_value(position, value):
    def change(line):
        label, pixels, usage = line.split(",")
        values = pixels.split(" ")
        values[position - 1] = value
        return f"{label},{' '.join(values)},{usage}"

    return change


ROW_ERRORS = [
    (
        lambda l: l.rsplit(" ", 1)[0] + "," + l.rsplit(",", 1)[1],
        r"fer\.csv:3: pixels: expected 2304 values \(48x48\), got 2303$",
    ),
    (
        lambda l: l.replace(",", ",7 ", 1),
        r"fer\.csv:3: pixels: expected 2304 values \(48x48\), got 2305",
    ),
    (_set_value(10, "abc"), r"fer\.csv:3: pixels: value 10 is 'abc', not an integer in 0\.\.255"),
    (_set_value(11, "12.5"), r"fer\.csv:3: pixels: value 11 is '12\.5', not an integer"),
    (_set_value(5, "256"), r"fer\.csv:3: pixels: value 5 is 256, expected an integer in 0\.\.255"),
    (
        _set_value(2304, "-1"),
        r"fer\.csv:3: pixels: value 2304 is -1, expected an integer in 0\.\.255",
    ),
    (_set_value(7, "1\xe9"), r"fer\.csv:3: pixels: value 7 is .*not an integer"),
    (
        lambda l: "7" + l[1:],
        r"fer\.csv:3: emotion: expected an integer label in 0\.\.6 "
        r"\(Angry, .*, Neutral\), got '7'",
    ),
    (lambda l: "-1" + l[1:], r"fer\.csv:3: emotion: .* got '-1'"),
    (lambda l: "happy" + l[1:], r"fer\.csv:3: emotion: .* got 'happy'"),
    (
        lambda l: l.replace("Training", "Validation"),
        r"fer\.csv:3: Usage: expected one of Training, PublicTest, PrivateTest, got 'Validation'",
    ),
    (
        lambda l: l + ",extra",
        r"fer\.csv:3: expected 3 comma-separated fields "
        r"\(emotion,pixels,Usage\), got 4",
    ),
    (lambda l: l.rsplit(",", 1)[0], r"fer\.csv:3: expected 3 comma-separated fields .* got 2"),
    (lambda l: l.replace(" ", ",", 1), r"fer\.csv:3: expected 3 comma-separated fields .* got 4"),
]


@pytest.mark.parametrize("corrupt,message", ROW_ERRORS)
def test_each_bad_row_is_an_error_naming_file_line_and_problem(tmp_path, table, corrupt, message):
    lines = _lines(table)
    lines[2] = corrupt(lines[2])  # line 3 of the file
    path = _write(tmp_path / "fer.csv", lines)
    with pytest.raises(DataError, match=message) as info:
        read_fer_csv(path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    "header,message",
    [
        (
            "emotion,pixels",
            r"fer\.csv:1: header: expected the columns emotion,pixels,Usage, got "
            r"'emotion,pixels' \(missing Usage\)",
        ),
        ("emotion,pixels,Usage,source", r"fer\.csv:1: header: .* \(unexpected 'source'\)"),
        ("pixels,emotion,Usage", r"fer\.csv:1: header: .*columns in the wrong order"),
        ("0,1 2 3,Training", r"fer\.csv:1: header: expected the columns emotion,pixels,Usage"),
    ],
)
def test_bad_header_is_an_error_on_line_1(tmp_path, table, header, message):
    lines = _lines(table)
    lines[0] = header
    with pytest.raises(DataError, match=message):
        read_fer_csv(_write(tmp_path / "fer.csv", lines))


def test_header_names_are_case_insensitive(tmp_path, table):
    lines = _lines(table)
    lines[0] = "Emotion, Pixels ,usage"
    rows, _ = read_fer_csv(_write(tmp_path / "fer.csv", lines))
    assert len(rows.labels) == 9


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", r"fer\.csv: empty file: expected a header line emotion,pixels,Usage"),
        (b"\n\n  \n", r"fer\.csv: empty file"),
        (b"emotion,pixels,Usage\n", r"fer\.csv: no data rows after the header line"),
    ],
)
def test_empty_file_or_no_rows_is_an_error(tmp_path, content, message):
    path = tmp_path / "fer.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_fer_csv(path)


def test_skip_bad_rows_reports_count_and_lines(tmp_path, table):
    lines = _lines(table)
    lines[2] = _set_value(3, "300")(lines[2])
    lines[5] = lines[5].replace("Training", "Train")
    path = _write(tmp_path / "fer.csv", lines)
    with pytest.raises(DataError, match=r"fer\.csv:3: pixels: value 3 is 300"):
        read_fer_csv(path)
    rows, _ = read_fer_csv(path, skip_bad_rows=True)
    assert rows.skipped_lines == [3, 6]
    assert [line for line, _ in rows.skipped_examples] == [3, 6]
    assert "Usage: expected one of" in rows.skipped_examples[1][1]
    np.testing.assert_array_equal(rows.lines, [2, 4, 5, 7, 8, 9, 10])
    np.testing.assert_array_equal(rows.pixels, np.delete(table[0], [1, 4], axis=0))


def test_skip_bad_rows_with_no_valid_row_is_an_error(tmp_path, table):
    lines = [HEADER] + [line.replace("Training", "x") for line in _lines(table)[1:6]]
    with pytest.raises(
        DataError,
        match=r"no valid data row: all 5 rows are invalid; "
        r"the first, line 2: Usage",
    ):
        read_fer_csv(_write(tmp_path / "fer.csv", lines), skip_bad_rows=True)


def _mutate(line: str, rng) -> str:
    """One random corruption, or none, of a data line."""
    kind = rng.integers(9)
    i = int(rng.integers(2, len(line) - 12))
    if kind == 0:
        return line[:i] + line[i + 1 :]  # may merge two values or drop a separator
    if kind == 1:
        return line[:i] + " " + line[i:]  # may split a value or add a space
    if kind == 2:
        return line[:i] + "9" + line[i:]  # may create a 4-digit value or a value > 255
    if kind == 3:
        return line[:i] + "x" + line[i:]
    if kind == 4:
        return line.replace(" ", " 0", 1)  # leading zeros: still valid
    if kind == 5:
        return line.replace(",", ", ", 1)
    if kind == 6:
        return line.replace("Training", "Training ")
    return line


def test_fast_reader_agrees_with_the_per_row_parser(tmp_path):
    # 300 rows (~2.5 MB: two read blocks), a third of them randomly corrupted: every
    # verdict and every value must equal the reference per-row parser's.
    rng = np.random.default_rng(3)
    lines = [HEADER] + [_row(k % 7, p) for k, p in enumerate(_pixels(rng, 300))]
    for i in rng.choice(np.arange(1, 301), size=100, replace=False):
        lines[i] = _mutate(lines[i], rng)
    path = _write(tmp_path / "fer.csv.gz", lines)
    rows, _ = read_fer_csv(path, skip_bad_rows=True)
    expected_ok, expected_bad = {}, []
    for number, line in enumerate(lines[1:], start=2):
        try:
            expected_ok[number] = parse_row(line.encode("latin-1"))
        except RowError:
            expected_bad.append(number)
    assert 10 < len(expected_bad) < 100
    assert rows.skipped_lines == expected_bad
    assert rows.lines.tolist() == sorted(expected_ok)
    for number, pixels, label in zip(rows.lines, rows.pixels, rows.labels):
        np.testing.assert_array_equal(pixels, expected_ok[number][1])
        assert label == expected_ok[number][0]


def test_multi_member_gzip_is_read_whole(tmp_path, table):
    lines = _lines(table)
    path = tmp_path / "fer.csv.gz"
    path.write_bytes(
        gzip.compress(("\n".join(lines[:4]) + "\n").encode())
        + gzip.compress(("\n".join(lines[4:]) + "\n").encode())
    )
    rows, _ = read_fer_csv(path)
    assert len(rows.labels) == 9


def test_truncated_or_corrupt_gzip_is_an_error(tmp_path, table):
    data = gzip.compress(("\n".join(_lines(table)) + "\n").encode())
    path = tmp_path / "fer.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"fer\.csv\.gz: truncated gzip file"):
        read_fer_csv(path)
    path.write_bytes(data[:20] + bytes(200) + data[220:])
    with pytest.raises(DataError, match=r"fer\.csv\.gz: corrupt gzip data"):
        read_fer_csv(path)
    path.write_text("\n".join(_lines(table)))
    with pytest.raises(DataError, match="the name ends in .gz but the content is not gzip"):
        read_fer_csv(path)


def test_parse_pixel_string_validates_like_csv_rows():
    values = np.arange(2304) % 256
    text = " ".join(map(str, values))
    parsed = parse_pixel_string(text)
    assert parsed.dtype == np.uint8 and parsed.shape == (2304,)
    np.testing.assert_array_equal(parsed, values)
    np.testing.assert_array_equal(parse_pixel_string(text.encode()), values)
    with pytest.raises(DataError, match=r"pixels: expected 2304 values \(48x48\), got 2303"):
        parse_pixel_string(text.rsplit(" ", 1)[0])
    with pytest.raises(DataError, match=r"pixels: value 1 is 256"):
        parse_pixel_string("256" + text[1:])
    with pytest.raises(DataError, match=r"pixels: value 1 is -1"):
        parse_pixel_string("-1 " + text)
    with pytest.raises(DataError, match="non-ASCII"):
        parse_pixel_string("é " + text)
