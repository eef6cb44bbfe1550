"""The fast JSON parser gives exactly the standard library's values and errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamctl.core import jsontext
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


@given(JSON | st.just({"nan": math.nan, "big": 2**70, "é": "😀"}))
def test_exact_dumps_is_the_standard_librarys_compact_text(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert jsontext.dumps_exact(value) == expected


def test_lone_surrogates_are_escaped_as_json_stringify_does() -> None:
    assert (
        jsontext.dumps_compact({"a": "hi \ud800", 10**20: 1})
        == '{"a":"hi \\ud800","100000000000000000000":1}'
    )
    assert jsontext.encode('"\udc00é"') == '"\\udc00é"'.encode()
    assert jsontext.encode('"é"') == '"é"'.encode()
    assert jsontext.is_unicode("é😀")
    assert not jsontext.is_unicode("a\ud800")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"plain ascii", None),
        ("é".encode() * 800_000, None),  # valid, across the 1 MiB slices
        ("é".encode() * 600_000 + b"\xff", 1_200_000),
        (b"a" * (1 << 20) + b"\xc3", 1 << 20),  # cut short at the very end
        (b"a" * ((1 << 20) - 1) + "é".encode() + b"\xff", (1 << 20) + 1),  # split é
    ],
)
def test_utf8_error_finds_the_first_bad_byte(data: bytes, where: int | None) -> None:
    assert jsontext.utf8_error(data) == where


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"[[[]]]", None),
        (b'["[[[[[[", [[]]]', None),  # brackets in strings do not count
        (b"[[],[[[]]]]", 7),
        (b'[{"a":[[1]]}]', 8),
        # Across the 1 MiB slices the depth is counted in: a slice with no bracket at all, and
        # a string that opens in one slice and closes in the next.
        (b"[[[[" + b" " * (2 << 20) + b"]]]]", 4),
        (b'["' + b"x" * (1 << 20) + b'[[[[", [[]]]', None),
    ],
    ids=["flat", "in-strings", "deep-array", "deep-object", "blank-slice", "string-across"],
)
def test_nesting_past_says_where_the_limit_is_passed(data: bytes, where: int | None) -> None:
    assert jsontext.nesting_past(data, 3) == where


@pytest.mark.parametrize("text", ['{"a": 1}', b'{"a": 1}'])
def test_json_object_parses_an_object_from_text_or_bytes(text: str | bytes) -> None:
    assert jsontext.json_object(text) == {"a": 1}


@pytest.mark.parametrize("text", ["[1]", "1", '"s"', "null", b"[1]"])
def test_json_object_tells_json_of_another_kind_apart(text: str | bytes) -> None:
    with pytest.raises(jsontext.NotAnObjectError):
        jsontext.json_object(text)


@pytest.mark.parametrize("text", ["{oops", "", "[" * 100_000, b"\xff{}"])
def test_json_object_refuses_what_is_not_json_as_a_value_error(text: str | bytes) -> None:
    try:
        jsontext.json_object(text)
    except jsontext.NotAnObjectError:
        pytest.fail("text that is not JSON is not 'JSON but not an object'")
    except ValueError:
        return
    pytest.fail("no error")
