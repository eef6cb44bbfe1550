"""The fast JSON parser gives exactly the standard library's values and errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamctl.core.jsontext import loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(st.integers(min_value=-(2**70), max_value=2**70) | st.integers())
def test_integers_of_any_size_are_exact(number: int) -> None:
    text = json.dumps({"n": [number, "ok"]})
    value = loads(text)
    assert value == {"n": [number, "ok"]}
    assert type(value["n"][0]) is int


@given(JSON)
def test_values_are_the_standard_librarys(value: object) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NaN", "nan"),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ('"\\ud800"', "\ud800"),
        ('"\ud800"', "\ud800"),  # a raw lone surrogate in the text itself
        ("[18446744073709551616]", [2**64]),
        ("[-9223372036854775809]", [-(2**63) - 1]),
        ('{"n": 1e400, "big": 99999999999999999999}', {"n": math.inf, "big": 10**20 - 1}),
    ],
)
def test_what_orjson_rejects_the_standard_library_decides(text: str, expected: object) -> None:
    value = loads(text)
    if expected == "nan":
        assert isinstance(value, float)
        assert math.isnan(value)
    else:
        assert value == expected


def test_invalid_json_raises_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        loads("{nope")


@pytest.mark.parametrize(
    "value",
    [{"a": "é 😀", "n": [1, 2.5, None, True]}, {"big": 2**70}, {1: "non-string key"}],
)
def test_compact_dumps_round_trips_even_what_orjson_cannot_encode(value: object) -> None:
    from streamctl.core.jsontext import dumps_compact

    text = dumps_compact(value)
    assert "\n" not in text
    assert " " not in text.replace("non-string key", "").replace("é 😀", "")
    assert json.loads(text) == json.loads(json.dumps(value))
