"""The pytest plugin, used the way a project's contract tests use it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from streamctl.core.transcript import Frame, dump, load
from streamctl.testing import MockServer, StreamRecorder, assert_conforms
from tests.builders import sse_transcript


def test_a_scripted_reply_for_the_next_request(mock_server: MockServer) -> None:
    mock_server.use({"reply": "Hello from the mock!"}, protocol="sse-delta-done")
    response = httpx.get(mock_server.url("sse-delta-done"), params={"message": "hi"})
    deltas = [
        json.loads(line[6:]).get("delta", "")
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]
    assert "".join(deltas) == "Hello from the mock!"
    # Only the next request: the one after gets the default reply again.
    again = httpx.get(mock_server.url("sse-delta-done"), params={"message": "hi"})
    assert '{"delta": "You"}' in again.text  # the default reply, token by token


def test_the_journal_shows_what_the_client_sent_with_secrets_redacted(
    mock_server: MockServer,
) -> None:
    httpx.get(
        mock_server.url("sse-delta-done"),
        params={"message": "ping"},
        headers={"Authorization": "Bearer secret"},
    )
    [entry] = mock_server.journal("sse-delta-done")
    assert entry["query"] == "message=ping"
    assert ["authorization", "<redacted>"] in entry["headers"]


def test_the_recorder_keeps_what_the_client_received(
    mock_server: MockServer, stream_recorder: StreamRecorder, tmp_path: Path
) -> None:
    mock_server.use("plain", protocol="sse-delta-done")
    httpx.get(mock_server.url("sse-delta-done"), params={"message": "hi"})
    transcript = stream_recorder.last("sse-delta-done")
    assert transcript.header.response is not None
    assert transcript.header.response.status == 200
    assert assert_conforms(transcript) == []
    saved = stream_recorder.save(tmp_path / "reply.jsonl")
    assert load(saved.read_text()) == transcript


def test_a_recording_replays_for_the_next_request(
    mock_server: MockServer, stream_recorder: StreamRecorder
) -> None:
    mock_server.use({"reply": "recorded once"}, protocol="sse-delta-done")
    first = httpx.get(mock_server.url("sse-delta-done"), params={"message": "a"}).content
    recording = stream_recorder.last()
    mock_server.use(recording, protocol="sse-delta-done", name="replayed")
    assert httpx.get(mock_server.url("sse-delta-done"), params={"message": "b"}).content == first


def test_assert_conforms_checks_a_live_endpoint(mock_server: MockServer) -> None:
    assert assert_conforms(mock_server.base_url, "goose", secret_key="test") == []


def test_assert_conforms_fails_with_every_finding_listed() -> None:
    broken = sse_transcript("sse-delta-done", [b'data: {"delta": 5}\n\n', b"data: nope\n\n"])
    with pytest.raises(AssertionError) as failure:
        assert_conforms(broken)
    report = str(failure.value)
    assert "does not conform (3 failing finding(s))" in report
    assert "sse-delta-done.schema.delta frame 0" in report
    assert "sse-delta-done.json frame 1" in report
    assert "sse-delta-done.done.missing" in report


def test_assert_conforms_on_a_url_needs_the_protocol() -> None:
    with pytest.raises(TypeError, match="needs the protocol"):
        assert_conforms("http://127.0.0.1:1")


def test_ws_urls_and_path_parameters(mock_server: MockServer) -> None:
    assert mock_server.url("ws-events") == f"{mock_server.ws_url}/ws/chat"
    assert mock_server.url("message-stream", chat_id="7").endswith("/chats/7/messages/stream")


def test_recorded_transcripts_never_hold_secrets(
    mock_server: MockServer, stream_recorder: StreamRecorder
) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    httpx.get(
        mock_server.url("sse-delta-done"),
        params={"message": "hi", "token": "hunter2"},
        headers={"Authorization": f"Bearer {jwt}", "X-Secret-Key": "s3cret"},
    )
    text = dump(stream_recorder.last("sse-delta-done"))
    for secret in ("hunter2", jwt, "s3cret"):
        assert secret not in text


def test_the_recorder_keeps_each_websocket_message_of_one_write(
    mock_server: MockServer, stream_recorder: StreamRecorder
) -> None:
    # At the plugin's speed 0 the reply's messages go out in one write; the transcript and the
    # client still see them one by one.
    tokens = [f"t{i} " for i in range(50)]
    mock_server.use({"tokens": tokens}, protocol="chunk-complete")
    received: list[str] = []
    with connect(mock_server.url("chunk-complete"), open_timeout=10) as ws:
        ws.send(json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00:00.000Z"}))
        while not received or json.loads(received[-1])["type"] != "complete":
            received.append(str(ws.recv(timeout=10)))
    transcript = stream_recorder.last("chunk-complete")
    sent = [r.payload for r in transcript.records if isinstance(r, Frame) and r.sender == "server"]
    assert sent == received
    assert len(received) == len(tokens) + 1
    assert assert_conforms(transcript) == []
