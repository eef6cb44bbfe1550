"""No reply, no pass: a live check that got no reply fails, saying why and what to pass."""

from __future__ import annotations

import json

import pytest

from streamctl.core.check import NO_REPLY, no_reply
from streamctl.core.protocols import get
from streamctl.core.transcript import Header, Request, Transcript
from tests.builders import sse_transcript, ws_transcript


def ws(kind: str, **data: object) -> tuple[str, str]:
    return ("server", json.dumps({"type": kind, "data": data}))


CONNECTED = ws("connected", message="hi")


def test_a_reply_is_not_a_refusal() -> None:
    transcript = sse_transcript("sse-delta-done", [b'data: {"delta": "a"}\n\n'])
    assert no_reply(transcript) is None


def test_a_missing_response_is_no_reply() -> None:
    transcript = Transcript(Header("goose", "sse", Request("POST", "/reply")), ())
    found = no_reply(transcript, get("goose"))
    assert found is not None
    assert (found.rule, found.level, found.frame) == (NO_REPLY.id, NO_REPLY.level, None)
    assert found.message == "goose: the server refused the exchange (the server never answered)"


def test_http_401_says_which_credentials_to_pass() -> None:
    found = no_reply(sse_transcript("goose", [], status=401))
    assert found is not None
    assert found.message == (
        "goose: authentication refused (HTTP 401); "
        "pass --secret-key KEY (the server's GOOSE_SERVER__SECRET_KEY)"
    )


def test_an_http_error_quotes_its_body() -> None:
    found = no_reply(sse_transcript("sse-delta-done", [b"  boom\n"], status=500))
    assert found is not None
    assert found.message == 'sse-delta-done: the server refused the exchange (HTTP 500 "boom")'


def test_a_refused_upgrade_without_credentials_to_pass_is_a_plain_refusal() -> None:
    found = no_reply(ws_transcript("chunk-complete", [], status=403))
    assert found is not None
    assert found.message == "chunk-complete: the server refused the exchange (HTTP 403)"


def test_an_error_before_authenticated_is_an_authentication_refusal() -> None:
    transcript = ws_transcript("ws-events", [CONNECTED, ws("error", message="no token")])
    found = no_reply(transcript)
    assert found is not None
    assert found.frame == 2  # the End record
    assert found.message == (
        'ws-events: authentication refused ("no token"); '
        "pass --token JWT, or --jwt-secret SECRET to mint one"
    )


def test_an_error_after_authenticated_is_a_refusal_of_the_message() -> None:
    messages = [CONNECTED, ws("authenticated", userId="u"), ws("error", message="no chat")]
    found = no_reply(ws_transcript("ws-events", messages))
    assert found is not None
    assert found.message == 'ws-events: the server refused the exchange ("no chat")'


@pytest.mark.parametrize(
    ("protocol", "chunks", "said"),
    [
        ("goose", [b'data: {"type":"Error","error":"No provider"}\n\n'], "No provider"),
        (
            "message-stream",
            [b'data: {"type":"error","error":{"message":"m","code":"c"}}\n\n'],
            "m",
        ),
        ("message-stream", [b'data: {"type":"error","error":{"code":"c"}}\n\n'], '{"type"'),
    ],
)
def test_the_error_event_says_why(protocol: str, chunks: list[bytes], said: str) -> None:
    found = no_reply(sse_transcript(protocol, chunks))
    assert found is not None
    assert f'refused the exchange ("{said}' in found.message


def test_a_stream_without_any_reply_says_how_it_ended() -> None:
    transcript = sse_transcript("goose", [b'data: {"type":"Ping"}\n\n'], end="timeout")
    found = no_reply(transcript)
    assert found is not None
    assert found.message == "goose: no reply arrived (ended: timeout)"
    unended = sse_transcript("goose", [], end=None)
    found = no_reply(unended)
    assert found is not None
    assert found.message == "goose: no reply arrived"


def test_the_end_detail_is_quoted() -> None:
    from streamctl.core.transcript import End

    base = sse_transcript("goose", [], end=None)
    transcript = Transcript(base.header, (End(5.0, "error", "connection reset"),))
    found = no_reply(transcript)
    assert found is not None
    assert found.message == "goose: no reply arrived (ended: error: connection reset)"
