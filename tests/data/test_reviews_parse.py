"""Stage 1: parsing the original .review files, their quirks and hostile input."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from logreg.data.reviews.parse import (
    COLUMNS,
    parse_review_file,
    parse_reviews,
    read_reviews_table,
    write_reviews_table,
)
from logreg.data.reviews.records import FIELDS
from logreg.errors import DataError
from logreg.fileio import sha256_file
from paths import REPO as ROOT
from paths import SHARED_DATA as DATA

REAL = DATA / "sentiment" / "sorted_data_acl"

DEFAULTS = {
    "unique_id": "B0002D31QU:buyer_beware:cmkb396",
    "asin": "B0002D31QU",
    "product_name": "Premier Gentle Spray Anti-Bark Dog Collar: Kitchen & Housewares",
    "product_type": "kitchen & housewares",
    "helpful": "1 of 1",
    "rating": "1.0",
    "title": "Buyer beware",
    "date": "November 9, 2006",
    "reviewer": "D. Overton",
    "reviewer_location": "CA",
    "review_text": "It broke.",
}


def raw_review(**values: str) -> str:
    """The raw lines of one review in the original layout (values already encoded)."""
    values = {**DEFAULTS, **values}
    lines = ["<review>"]
    for name in FIELDS:
        lines += [f"<{name}>", values[name], f"</{name}>"]
    return "\n".join(lines + ["</review>"]) + "\n"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_quirks_of_the_original_format_are_decoded_exactly_once(tmp_path):
    text = (
        "He said &quot;great&quot; &#45; AT&T &amp; B&D, it says &amp;quot;Non Stop"
        "&amp;quot;  \n\nArrived in &lt;2 days caf\ufffd \x1a\n"
    )
    first = raw_review(
        unique_id="B1:a:x",
        helpful="",
        reviewer="",
        review_text=text,
        title="Fish &amp; chips",
        rating="5.0",
    )
    path = write(
        tmp_path / "dom" / "positive.review", first + raw_review(unique_id="B1:b:y", rating="4.0")
    )
    rows = list(parse_review_file(path))
    assert len(rows) == 2
    row = rows[0]
    assert row["review_text"] == (
        'He said "great" - AT&T & B&D, it says &quot;Non Stop'
        "&quot;  \n\nArrived in <2 days caf\ufffd \x1a"
    )
    assert row["title"] == "Fish & chips"
    assert row["product_type"] == "kitchen & housewares"
    assert row["product_name"].endswith(": Kitchen & Housewares")
    assert (row["helpful"], row["reviewer"]) == ("", "")
    assert (row["rating"], row["label"], row["line"]) == (5.0, 1, 1)
    assert rows[1]["line"] == 1 + first.count("\n")
    assert rows[1]["source_file"] == str(path)


def test_markup_inside_a_value_stays_text(tmp_path):
    path = write(
        tmp_path / "negative.review", raw_review(review_text="a <b>bold</b> <title>x</title> claim")
    )
    (row,) = parse_review_file(path)
    assert row["review_text"] == "a <b>bold</b> <title>x</title> claim"
    assert row["title"] == DEFAULTS["title"]
    assert row["label"] == 0


def test_every_review_of_a_rootless_file_is_returned(tmp_path):
    # The trap of the "lxml-xml" parser: on a file without a root it returns one review.
    reviews = "".join(raw_review(unique_id=f"id{i}") for i in range(25))
    path = write(tmp_path / "positive.review", reviews)
    assert [r["unique_id"] for r in parse_review_file(path)] == [f"id{i}" for i in range(25)]


def test_a_review_larger_than_libxml2_text_limit_is_read_whole(tmp_path):
    # libxml2 caps a text node at 10,000,000 bytes unless told otherwise; a long review
    # must come through complete, not silently cut.
    line = "word &quot;quoted&quot; AT&T and more words to fill the line. " * 20
    text = "\n".join([line] * (12_000_000 // len(line)))
    path = write(tmp_path / "positive.review", raw_review(review_text=text))
    (row,) = parse_review_file(path)
    assert row["review_text"] == html.unescape(text).strip()


TRUNCATED = raw_review() + raw_review(unique_id="second")[:60]


@pytest.mark.parametrize(
    "content, line, message",
    [
        (TRUNCATED, TRUNCATED.count("\n") + 1, r"file ends inside the review starting at line 36"),
        (
            raw_review().replace("</review_text>\n", ""),
            34,
            r"expected </review_text> to close "
            r"the <review_text> of line 32",
        ),
        (
            raw_review() + raw_review().replace("</review_text>\n</review>\n", ""),
            68,
            r"file ends inside .* expected </review_text> and </review>",
        ),
        (
            re.sub(r"<review_text>\n.*\n</review_text>\n", "", raw_review()),
            32,
            r"expected <review_text> \(field 11 of 11\) of the review starting at line 1, "
            r"found </review>",
        ),
        (
            raw_review(review_text=""),
            32,
            r"<review_text> of the review starting at line 1 is empty",
        ),
        (
            re.sub(r"<rating>\n.*\n</rating>\n", "", raw_review()),
            17,
            r"expected <rating> \(field 6 of 11\) of the review .* found <title>",
        ),
        (raw_review(rating=" "), 17, r"<rating> .* is empty"),
        (raw_review(rating="five"), 17, r"rating 'five' .* is not a number from 1 to 5"),
        (raw_review(rating="9.0"), 17, r"is not a number from 1 to 5"),
        (raw_review(unique_id=""), 2, r"<unique_id> .* is empty"),
        ("", None, r"empty file: expected a sequence of <review> elements"),
        ("\n  \n", 2, r"empty file"),
        ("hello\n" + raw_review(), 1, r"expected <review>, found 'hello'"),
        (
            raw_review().replace("<title>", "<titel>"),
            20,
            r"expected <title> \(field 7 of 11\) of the review .* found '<titel>'",
        ),
        (
            raw_review().replace("</review>", "<rating>"),
            35,
            r"expected </review> after the 11 fields of the review starting at line 1, "
            r"found <rating>",
        ),
        (
            raw_review() + raw_review(unique_id="x")[:39],
            40,
            r"expected <asin> \(field 2 of 11\) .* found '<as' \(the file ends in this line: "
            r"truncated\?\)",
        ),
        (
            raw_review() + raw_review(),
            36,
            r"unique_id 'B0002D31QU:buyer_beware:cmkb396' was "
            r"already used by the review at .*:1",
        ),
    ],
    ids=[
        "truncated",
        "no-close-text",
        "truncated-in-text",
        "no-text-element",
        "empty-text",
        "no-rating-element",
        "blank-rating",
        "bad-rating",
        "rating-range",
        "empty-id",
        "empty-file",
        "blank-file",
        "garbage-before",
        "unknown-tag",
        "extra-field",
        "cut-in-a-tag",
        "duplicate-id",
    ],
)
def test_malformed_files_fail_naming_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path / "negative.review", content)
    with pytest.raises(DataError, match=message) as info:
        parse_reviews([path, write(tmp_path / "positive.review", raw_review(unique_id="p"))])
    assert info.value.where == str(path)
    assert info.value.line == line


def test_latin1_bytes_are_reported_at_their_line(tmp_path):
    content = raw_review().encode("utf-8").replace(b"It broke.", b"Caf\xe9 broke.")
    path = write(tmp_path / "negative.review", content)
    with pytest.raises(
        DataError,
        match=r"negative.review:33: not UTF-8: byte 0xe9 at "
        r"column 4",
    ):
        list(parse_review_file(path))


def test_binary_garbage_is_refused_at_the_first_line(tmp_path):
    path = write(tmp_path / "positive.review", bytes(range(256)) * 64)
    with pytest.raises(DataError, match=r"positive.review:1: binary data \(a NUL byte"):
        list(parse_review_file(path))


def test_an_entity_bomb_is_refused_not_expanded(tmp_path):
    bomb = ["<!DOCTYPE lolz [", '<!ENTITY lol "lol">']
    bomb += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    bomb += ["]>"]
    body = raw_review(review_text="&lol9;")
    for content, line in [
        ("\n".join(bomb) + "\n" + body, 1),
        (body.replace("&lol9;", "&lol9;\n" + "\n".join(bomb)), 34),
    ]:
        path = write(tmp_path / "positive.review", content)
        with pytest.raises(
            DataError,
            match=r"markup declaration '<!DOCTYPE lolz \[' is "
            r"not allowed",
        ) as info:
            list(parse_review_file(path))
        assert info.value.line == line


def test_unknown_entities_are_kept_literally(tmp_path):
    path = write(tmp_path / "positive.review", raw_review(review_text="&lol9; &#60;3"))
    (row,) = parse_review_file(path)
    assert row["review_text"] == "&lol9; <3"


def test_missing_files_and_folders_are_named(tmp_path):
    (tmp_path / "dom").mkdir()
    with pytest.raises(DataError, match=r"dom/positive.review: review file not found; "):
        list(parse_review_file(tmp_path / "dom" / "positive.review"))
    with pytest.raises(DataError, match=r"the folder .*nowhere/dom does not exist"):
        list(parse_review_file(tmp_path / "nowhere" / "dom" / "negative.review"))
    with pytest.raises(DataError, match=r"expected positive.review or negative.review"):
        list(parse_review_file(write(tmp_path / "neutral.review", raw_review())))


def test_a_domain_needs_both_labels(tmp_path):
    path = write(tmp_path / "positive.review", raw_review())
    with pytest.raises(DataError, match=r"no negative reviews"):
        parse_reviews([path])


def test_table_round_trips_with_source_checksums(tmp_path):
    pos = write(tmp_path / "d" / "positive.review", raw_review(unique_id="p", rating="5.0"))
    neg = write(tmp_path / "d" / "negative.review", raw_review(unique_id="n"))
    table, sources = parse_reviews([pos, neg])
    assert list(table.columns) == COLUMNS
    assert sources == {str(pos): sha256_file(pos), str(neg): sha256_file(neg)}
    write_reviews_table(table, sources, tmp_path / "out" / "reviews.parquet")
    again, again_sources = read_reviews_table(tmp_path / "out" / "reviews.parquet")
    assert again.equals(table) and again_sources == sources
    table.to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataError, match=r"not a reviews table written by"):
        read_reviews_table(tmp_path / "plain.parquet")


def test_cli_fails_cleanly_and_keeps_earlier_output(tmp_path):
    pos = write(tmp_path / "kitchen_&_housewares" / "positive.review", raw_review(unique_id="p"))
    neg = write(tmp_path / "kitchen_&_housewares" / "negative.review", TRUNCATED)
    out = write(tmp_path / "reviews.parquet", b"earlier result")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "logreg.data.reviews",
            "parse",
            str(pos),
            str(neg),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert re.search(
        r"^error: .*kitchen_&_housewares/negative.review:42: file ends inside "
        r"the review starting at line 36",
        proc.stderr,
        flags=re.M,
    )
    assert out.read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kitchen_&_housewares", "reviews.parquet"]


@pytest.mark.realdata
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real review data not found at {REAL}")
@pytest.mark.parametrize("domain", ["electronics", "kitchen_&_housewares"])
def test_real_files(domain):
    pos, neg = REAL / domain / "positive.review", REAL / domain / "negative.review"
    table, sources = parse_reviews([pos, neg])
    assert table.groupby("label").size().to_dict() == {0: 1000, 1: 1000}
    assert table["unique_id"].is_unique
    assert set(table.loc[table["label"] == 0, "rating"]) == {1.0, 2.0}
    assert set(table.loc[table["label"] == 1, "rating"]) == {4.0, 5.0}
    recorded = dict(
        reversed(line.split("  ", 1))
        for line in (DATA / "sentiment" / "SHA256SUMS").read_text().splitlines()
    )
    assert sources == {str(p): recorded[f"sorted_data_acl/{domain}/{p.name}"] for p in (pos, neg)}
    # Every value equals an independent decoding of the raw text between its tags.
    for path in (pos, neg):
        raw = path.read_text(encoding="utf-8")
        rows = table[table["source_file"] == str(path)]
        assert rows["line"].tolist() == [
            i + 1 for i, line in enumerate(raw.split("\n")) if line == "<review>"
        ]
        for name in ("title", "review_text", "product_name", "reviewer"):
            values = re.findall(rf"^<{name}>\n(.*?)\n?</{name}>$", raw, flags=re.S | re.M)
            assert rows[name].tolist() == [html.unescape(v).strip() for v in values]
