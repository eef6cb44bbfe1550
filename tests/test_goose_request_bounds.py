"""goose ``/reply`` bodies cost their size, not a tree of objects: the attacks of issue 16.

Before: a 5 MB string made the nesting regex hold 600 MB, and a body of small values was parsed
into Python objects 13 to 30 times its size (50 MiB of ``[{},…]``: 1.5 GB). The bound: the peak
grows by at most 3 times the body + 60 MB, whatever the body holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamctl.core.protocols.exchange import Accepted, HttpRequest, HttpResponse, Settings
from streamctl.core.protocols.goose import PROTOCOL
from tests.bounds import MB, peak_growth

JSON_HEADERS = {"content-type": "application/json", "x-secret-key": "test"}
SIZE = 20 * MB
HEAD = b'{"session_working_dir":"/w","messages":[{"role":"user","content":[]}],"x":'


def _body(shape: str) -> bytes:
    fill = {
        "string": b'"' + b"a" * SIZE + b'"',
        "escapes": b'"' + b"\\n" * (SIZE // 2) + b'"',
        "objects": b"[" + b"{}," * (SIZE // 3) + b"{}]",
        "arrays": b"[" + b"[]," * (SIZE // 3) + b"[]]",
        "numbers": b"[" + b"1000," * (SIZE // 5) + b"1]",
        "strings": b"[" + b'"ab",' * (SIZE // 5) + b'"ab"]',
    }[shape]
    return HEAD + fill + b"}"


def _accept(body: bytes) -> HttpResponse | Accepted:
    request = HttpRequest("POST", "/reply", headers=JSON_HEADERS, body=body)
    return PROTOCOL.accept(request, PROTOCOL.new_state(Settings()))


@pytest.mark.parametrize("shape", ["string", "escapes", "objects", "arrays", "numbers", "strings"])
def test_a_body_costs_at_most_three_times_its_size(shape: str, tmp_path: Path) -> None:
    body = _body(shape)
    path = tmp_path / "body.json"
    path.write_bytes(body)
    setup = f"""
        from streamctl.core.protocols.exchange import Accepted, HttpRequest, Settings
        from streamctl.core.protocols.goose import PROTOCOL
        body = open({str(path)!r}, "rb").read()
        headers = {{"content-type": "application/json", "x-secret-key": "test"}}
        state = PROTOCOL.new_state(Settings())
        request = HttpRequest("POST", "/reply", headers=headers, body=body)
    """
    action = "assert isinstance(PROTOCOL.accept(request, state), Accepted)"
    assert peak_growth(setup, action) <= 3 * len(body) + 60 * MB


def test_a_refused_body_of_small_values_keeps_none_of_them(tmp_path: Path) -> None:
    # Python's json names the problem; it must not keep the values it read on the way there.
    path = tmp_path / "body.json"
    path.write_bytes(b'{"x":[' + b"{}," * (SIZE // 3) + b"{},x]}")
    setup = f"""
        from streamctl.core.protocols.goose.request import read_json
        body = open({str(path)!r}, "rb").read()
    """
    action = 'assert read_json("application/json", body).status == 400'
    assert peak_growth(setup, action) <= 3 * SIZE + 60 * MB


SYNTAX = "Failed to parse the request body as JSON: "


@pytest.mark.parametrize(
    ("body", "words"),
    [
        # serde_json's words for what Python's json would take (positions as jiter gives them).
        (b'"hi \\ud800"', "unexpected end of hex escape at line 1 column 11"),
        (b'"\\ud800\\n"', "unexpected end of hex escape at line 1 column 9"),
        (b'"\\ud800\\u0041"', "lone leading surrogate in hex escape at line 1 column 13"),
        (b'"hi \\udc00"', "lone leading surrogate in hex escape at line 1 column 10"),
        (b'["\\\\ud800", NaN]', "expected value at line 1 column 13"),
        (b'{"a": -Infinity}', "expected value at line 1 column 7"),
    ],
)
def test_what_only_python_takes_is_refused_in_serde_s_words(body: bytes, words: str) -> None:
    answer = _accept(body)
    assert isinstance(answer, HttpResponse)
    assert (answer.status, answer.body.decode()) == (400, SYNTAX + words)


def test_a_valid_surrogate_pair_is_text() -> None:
    body = b'{"session_working_dir":"/w","messages":[{"role":"user","content":'
    body += b'[{"type":"text","text":"\\ud83d\\ude00"}]}]}'
    answer = _accept(body)
    assert isinstance(answer, Accepted)
    assert answer.turn.user_text == "\U0001f600"


def test_of_two_bad_fields_serde_names_the_one_it_reads_first() -> None:
    body = b'{"session_id":5,"messages":"x"}'
    answer = _accept(body)
    assert isinstance(answer, HttpResponse)
    assert answer.body.decode().endswith(
        "session_id: invalid type: integer `5`, expected a string at line 1 column 15"
    )
    answer = _accept(b'{"messages":"x","session_id":5}')
    assert isinstance(answer, HttpResponse)
    assert "messages: invalid type" in answer.body.decode()


def test_nesting_counts_what_closed_before_it_went_too_deep() -> None:
    body = b'{"a":[[1],{}],"b":' + b"[" * 127 + b"]" * 127 + b',"c":' + b"[" * 128
    answer = _accept(body + b"]" * 128 + b"}")
    assert isinstance(answer, HttpResponse)
    column = len(body)  # serde has read the 129th '['
    words = f"recursion limit exceeded at line 1 column {column}"
    assert answer.body.decode() == SYNTAX + words


def test_nesting_past_the_limit_inside_strings_does_not_count() -> None:
    inner = b'"' + b"[" * 300 + b'"'
    body = b'{"session_working_dir":"/w","messages":[],"x":[' + b",".join([inner] * 50) + b"]}"
    assert isinstance(_accept(body), Accepted)


def test_invalid_utf8_deep_in_a_large_body_is_found_where_it_is() -> None:
    body = b'{"x":"' + "é".encode() * (600 * 1024) + b'\xff"}'
    answer = _accept(body)
    assert isinstance(answer, HttpResponse)
    column = len(body) - 2  # serde has read the bad byte
    assert answer.body.decode() == f"{SYNTAX}invalid unicode code point at line 1 column {column}"
