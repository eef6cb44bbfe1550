"""An era-B conversation is read in C and kept as one small object per message (issue 16).

Before: a 50 MiB ``/reply`` of two-letter messages took the server up by 1.15 GB for 17 s (the
nesting check's ``re.sub`` made a bytes object per string, then every message became dicts
twice over). The bound of the issue: the peak grows by at most 3 times the body + 60 MB.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamctl.core import jsontext
from streamctl.core.protocols.exchange import Accepted, HttpRequest, HttpResponse, Settings
from streamctl.core.protocols.goose import PROTOCOL, server
from streamctl.core.protocols.goose.conversation import StoredMessage, read
from streamctl.core.protocols.goose.request import REQUEST_B, REQUEST_E, Body, deserialize
from streamctl.core.protocols.goose.state import GooseSettings
from streamctl.core.script import Script, Token
from tests.bounds import MB, peak_growth

HEADERS = {"content-type": "application/json", "x-secret-key": "test"}
TINY = b'{"role":"user","created":1,"content":[{"type":"text","text":"hi"}]},'


def _body(messages: bytes, **fields: object) -> bytes:
    head = {"session_id": "s", "session_working_dir": "/w", **fields}
    return json.dumps(head).encode()[:-1] + b',"messages":[' + messages + b"]}"


E_MESSAGE = b'{"role":"user","created":1,"content":[{"type":"text","text":"hi"}],"metadata":{}}'


def _body_e(user: bytes, **lists: bytes) -> bytes:
    parts = [b'"session_id":"s"', b'"user_message":' + user]
    parts += [f'"{name}":'.encode() + value for name, value in lists.items()]
    return b"{" + b",".join(parts) + b"}"


@pytest.mark.parametrize("variant", ["b", "e"])
def test_fifty_mib_of_tiny_messages_costs_at_most_three_times_the_body(
    tmp_path: Path, variant: str
) -> None:
    if variant == "b":
        count = (50 * MB - 200) // len(TINY)
        body = _body(TINY * count + TINY[:-1])
    else:
        message = E_MESSAGE + b","
        count = (50 * MB - 300) // len(message)
        body = _body_e(E_MESSAGE, conversation_so_far=b"[" + message * count + E_MESSAGE + b"]")
    path = tmp_path / "body.json"
    path.write_bytes(body)
    setup = f"""
        from streamctl.core.protocols.exchange import Accepted, HttpRequest, Settings
        from streamctl.core.protocols.goose import PROTOCOL
        from streamctl.core.protocols.goose.state import GooseSettings
        body = open({str(path)!r}, "rb").read()
        headers = {{"content-type": "application/json", "x-secret-key": "test"}}
        own = GooseSettings(variant={variant!r})
        state = PROTOCOL.new_state(Settings(protocols={{"goose": own}}))
        request = HttpRequest("POST", "/reply", headers=headers, body=body)
    """
    action = f"""
        accepted = PROTOCOL.accept(request, state)
        assert isinstance(accepted, Accepted)
        assert accepted.turn.index == len(accepted.turn.ids["prior"]) >= {count}
    """
    assert peak_growth(setup, action) <= 3 * len(body) + 60 * MB


@pytest.mark.parametrize(
    "messages",
    [
        b'{"role":"user","content":[{"type":"text","text":"a"}]}',
        b'{"role":"user","content":[{"type":"text","text":"a","x":[1]}],"extra":{"y":2}}',
        b'{"id":"m1","role":"assistant","created":-5,"content":[]}',
        b'{"role":"user","content":[{"type":"image","data":"x"},{"type":"toolResponse"}]}',
        b'{"role":"user","content":[{"type":"text","text":"\\ud83d\\ude00 \\u00e9"}]}',
        b'{"role":"assistant","created":99999999999999999999,"content":[]}',
    ],
)
def test_the_compact_reader_keeps_what_the_serde_reader_keeps(messages: bytes) -> None:
    body = Body(_body(messages))
    compact = read(body, False)
    slow = deserialize(body, REQUEST_B)
    if compact is None:  # too big for an i64: serde's reader explains
        assert isinstance(slow, HttpResponse)
        return
    assert isinstance(slow, dict)
    assert [dict(m) for m in compact["messages"]] == [
        {
            "id": m.get("id"),
            "role": m["role"],
            "created": m.get("created", 0),
            "content": m["content"],
        }
        for m in slow["messages"]
    ]
    assert {k: v for k, v in compact.items() if k != "messages" and v is not None} == {
        k: v for k, v in slow.items() if k != "messages"
    }


@pytest.mark.parametrize(
    "messages",
    [
        b'{"role":"system","content":[]}',
        b'{"role":"user","content":[{"type":"text"}]}',
        b'{"role":"user","content":[{"type":"nope"}]}',
        b'{"role":"user","content":{}}',
        b'{"role":"user","created":1.5,"content":[]}',
        b'{"content":[]}',
    ],
)
def test_a_body_that_does_not_deserialize_is_left_to_serde_words(messages: bytes) -> None:
    body = _body(messages)
    assert read(Body(body), False) is None
    request = HttpRequest("POST", "/reply", headers=HEADERS, body=body)
    refused = PROTOCOL.accept(request, PROTOCOL.new_state(Settings()))
    assert isinstance(refused, HttpResponse)
    assert refused.status == 422


def test_a_stored_message_reads_as_the_mapping_it_stands_for() -> None:
    compact = read(Body(_body(TINY[:-1])), False)
    assert compact is not None
    (message,) = compact["messages"]
    assert isinstance(message, StoredMessage)
    as_dict = {
        "id": None,
        "role": "user",
        "created": 1,
        "content": [{"type": "text", "text": "hi"}],
    }
    assert message == as_dict
    assert (len(message), list(message), message["role"], message.has_text) == (
        4,
        list(as_dict),
        "user",
        True,
    )
    assert "StoredMessage(b'{" in repr(message)
    # Written as it is stored, by orjson and by the standard library alike.
    assert json.loads(jsontext.dumps_compact({"m": [message]})) == {"m": [as_dict]}
    assert json.loads(jsontext.dumps_compact({"m": [message], "big": 2**70})) == {
        "m": [as_dict],
        "big": 2**70,
    }


def test_what_json_cannot_write_is_still_refused() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps_compact({"x": object()})
    with pytest.raises(TypeError):
        jsontext.dumps_compact({"x": object(), "big": 2**70})


def test_a_resent_conversation_is_stored_and_answered_compactly() -> None:
    state = PROTOCOL.new_state(Settings())
    earlier = TINY + b'{"role":"assistant","content":[{"type":"text","text":"yo"}]},'
    body = _body(earlier + b'{"role":"user","content":[{"type":"text","text":"next"}]}')
    request = HttpRequest("POST", "/reply", headers=HEADERS, body=body)
    accepted = PROTOCOL.accept(request, state)
    assert isinstance(accepted, Accepted)
    assert (accepted.turn.user_text, accepted.turn.index) == ("next", 1)
    PROTOCOL.finish(accepted.turn, Script((Token("ok"),)), state, True)
    texts = [m["content"][0]["text"] for m in state.sessions["s"].messages]
    assert texts == ["hi", "yo", "next", "ok"]
    assert state.sessions["s"].user_turns == 2


@pytest.mark.parametrize(
    "body",
    [
        _body_e(E_MESSAGE),
        _body_e(E_MESSAGE, conversation_so_far=b"null", override_conversation=b"[]"),
        _body_e(
            E_MESSAGE,
            conversation_so_far=b'[{"id":"a","role":"assistant","created":2,"content":'
            b'[{"type":"systemNotification","x":1}],"metadata":{"userVisible":false,"z":1}}]',
        ),
        _body_e(
            E_MESSAGE,
            override_conversation=b'[{"role":"user","created":3,"content":[],'
            b'"metadata":{"agentVisible":true,"userVisible":true}}]',
        ),
    ],
)
def test_era_e_is_read_compactly_as_serde_reads_it(body: bytes) -> None:
    compact = read(Body(body), True)
    slow = deserialize(Body(body), REQUEST_E)
    assert isinstance(slow, dict)
    assert compact is not None
    assert dict(compact["user_message"]) == {"id": None, **slow["user_message"]}
    for name in ("conversation_so_far", "override_conversation"):
        expected = slow.get(name)
        got = compact[name]
        if expected is None:
            assert not got
            continue
        assert [dict(m) for m in got] == [{"id": m.get("id"), **m} for m in expected]


@pytest.mark.parametrize(
    "body",
    [
        _body_e(b'{"role":"user","content":[],"metadata":{}}'),  # no created
        _body_e(b'{"role":"user","created":1,"content":[]}'),  # no metadata
        _body_e(E_MESSAGE, conversation_so_far=b'[{"role":"user"}]'),
        _body_e(
            b'{"role":"user","created":1,"content":[{"type":"image"}],"metadata":{"userVisible":1}}'
        ),
    ],
)
def test_an_era_e_body_that_does_not_deserialize_is_left_to_serde_words(body: bytes) -> None:
    assert read(Body(body), True) is None
    request = HttpRequest("POST", "/reply", headers=HEADERS, body=body)
    refused = PROTOCOL.accept(
        request,
        PROTOCOL.new_state(Settings(protocols={"goose": GooseSettings(variant="e")})),
    )
    assert isinstance(refused, HttpResponse)
    assert refused.status == 422


def test_a_message_read_as_dicts_is_stored_and_counted_the_same() -> None:
    text = [{"type": "text", "text": "hi"}]
    plain = {"role": "user", "content": text, "extra": 1}
    assert server._stored(plain, False) == {
        "id": None,
        "role": "user",
        "created": 0,
        "content": text,
    }
    assert server._stored({**plain, "created": 5, "metadata": {}}, True)["metadata"] == {}
    assert server._user_turns([plain, {"role": "user", "content": []}]) == 1


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'["a\\\\", [[[[1]]]]]', 11),  # an escaped backslash ends no string
        (b'["a\\"[[[[", 1]', None),  # an escaped quote ends none either
        (b'\\"' + b"[" * 5 + b'"', None),  # no JSON: the count and the tokens disagree
        (b'["' + b" " * (1 << 20) + b'[[[[", [[]]]', None),  # a string across the slices
        (b"[" + b" " * (1 << 20) + b"[[[]]]]", (1 << 20) + 4),  # brackets across them
    ],
)
def test_nesting_is_counted_outside_strings_across_slices(data: bytes, where: int | None) -> None:
    assert jsontext.nesting_past(data, 3) == where
