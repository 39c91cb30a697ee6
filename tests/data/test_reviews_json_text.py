"""The fast indented JSON of the prepared folders is json.dumps's text, character for character."""

from __future__ import annotations

import json

import numpy as np
import pytest

from logreg.data.reviews.json_text import dumps

OBJECTS = [
    {},
    [],
    {"b": [1, 2, 3], "a": {"x": [], "y": {}}, "c": None, "d": True, "e": 1.5e-300},
    {"names": ["", "café", "don't", 'quote " and \\ slash', "\n\t", "中文", "not worth"]},
    {"mixed": [1, "a", 2.5, None, False, [1, [2, []]], {"k": [True]}], "n": -3},
    [[1, 2], ["a"], [], {}],
    {"floats": [0.1, 1e20, float("inf"), -0.0], "ints": [0, -1, 2**70]},
    "just a string",
    12,
]


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("indent", [1, 2])
@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_dumps_is_json_dumps(obj, indent, sort_keys, ensure_ascii):
    expected = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    assert dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii) == expected


def test_a_hashed_vectorizer_state_is_written_as_json_dumps_writes_it():
    from logreg.data.reviews.vectorize import Vectorizer

    texts = ["Great sound, works great", "It broke; do not buy", "Café crème, fine"]
    state = Vectorizer(stopwords=False, bigrams=True, min_count=1, hashing=12).fit(texts).to_dict()
    assert len(state["vocabulary"]) == 2**12
    assert dumps(state, indent=1, ensure_ascii=False) == json.dumps(
        state, indent=1, ensure_ascii=False
    )


def test_values_json_cannot_write_fail_and_other_keys_are_refused():
    with pytest.raises(TypeError, match="int64 is not JSON serializable"):
        dumps({"a": [np.int64(1)]}, indent=2)
    # json.dumps would write 1 as "1"; no prepared folder has such keys.
    with pytest.raises(TypeError, match="keys other than str"):
        dumps({1: "a"}, indent=2)
