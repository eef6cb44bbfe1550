"""The contract suite against independent servers that each break one rule: ``check`` exits 1
naming that rule; against the conformant mock it exits 0 (tests/test_cli_live.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result
from websockets.asyncio.server import ServerConnection

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.errors import ExitCode
from tests.broken_servers import SSE_HEAD, BrokenServer, _head, http_server
from tests.conformant_servers import GOOSE_KEY, JWT_SECRET, ThirdParty, create_app, ws_events

Route = Callable[[bytes], tuple[int, tuple[tuple[str, str], ...], list[bytes]]]


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="streamctl")


def http_routes(route: Route) -> BrokenServer:
    """A raw HTTP server answering each request with ``route(request)``: status, headers and
    body chunks (chunked)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, headers, chunks = route(server.requests[-1])
        writer.write(_head(status, headers, True))
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    server = BrokenServer(handle)
    return server


def probe_findings(result: Result, probe: str) -> list[str]:
    report = json.loads(result.stdout)
    (entry,) = [p for p in report["probes"] if p["probe"] == probe]
    return [f["rule"] for f in entry["findings"]]


# --- goose ------------------------------------------------------------------------------------

GOOSE_STREAM = [
    b'data: {"type":"Ping"}\n\n',
    b'data: {"type":"Message","message":{"id":"m1","role":"assistant","created":1,'
    b'"content":[{"type":"text","text":"Hi"}]}}\n\n',
    b'data: {"type":"Finish","reason":"stop"}\n\n',
]


def goose_route(empty_401: bool, check_key: bool) -> Route:
    def route(request: bytes) -> tuple[int, tuple[tuple[str, str], ...], list[bytes]]:
        line = request.split(b"\r\n", 1)[0]
        if line.startswith(b"GET /status"):
            return 200, (("content-type", "application/json"),), [b'{"status":"ok"}']
        if check_key and b"x-secret-key: test\r\n" not in request.lower():
            body = [] if empty_401 else [b'{"error": "unauthorized"}']
            return 401, (("content-type", "application/json"),), body
        return 200, SSE_HEAD, GOOSE_STREAM

    return route


@pytest.mark.parametrize(
    ("empty_401", "check_key"),
    [(True, False), (False, True)],
    ids=["ignores-the-key", "401-with-a-json-body"],
)
def test_goose_auth_breakage_is_found(empty_401: bool, check_key: bool) -> None:
    with http_routes(goose_route(empty_401, check_key)) as server:
        result = cli("check", "goose", server.url, "--probe", "auth", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "goose.auth.refused" in probe_findings(result, "auth")


def test_goose_without_the_initial_ping_is_found() -> None:
    stream = GOOSE_STREAM[1:]
    with http_routes(lambda _: (200, SSE_HEAD, stream)) as server:
        result = cli("check", "goose", server.url, "--quick", "-f", "json", "--strict")
    assert result.exit_code == ExitCode.CHECK_FAILED  # a SHOULD: it fails with --strict
    assert "goose.ping.first" in probe_findings(result, "exchange")


# --- sse-delta-done ---------------------------------------------------------------------------


def test_sse_delta_done_400_text_for_a_missing_message_is_found() -> None:
    def route(request: bytes) -> tuple[int, tuple[tuple[str, str], ...], list[bytes]]:
        return 400, (("content-type", "text/plain"),), [b"message is required"]

    with http_routes(route) as server:
        result = cli("check", "sse-delta-done", server.url, "--probe", "bad-input", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert probe_findings(result, "bad-input") == ["sse-delta-done.bad-input.422"]


# --- message-stream ---------------------------------------------------------------------------


def test_message_stream_ndjson_accept_ignored_is_found(live_server: LiveServer) -> None:
    def route(request: bytes) -> tuple[int, tuple[tuple[str, str], ...], list[bytes]]:
        read = {"id": 7, "chat_id": 1, "role": "assistant", "created_at": "2024-01-01T00:00:00Z"}
        events = [
            {"type": "message_start", "message": {**read, "content": ""}},
            {"type": "message_delta", "message_id": 7, "delta": "Hi"},
            {"type": "message_end", "message": {**read, "content": "Hi"}},
        ]
        chunks = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
        return 200, SSE_HEAD, chunks

    with http_routes(route) as server:
        result = cli("check", "message-stream", server.url, "--probe", "ndjson", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "message-stream.http.negotiation" in probe_findings(result, "ndjson")


# --- WebSocket servers ------------------------------------------------------------------------

WSBehaviour = Callable[[ServerConnection], Awaitable[None]]


def chunk_server(on_bad: str) -> BrokenServer:
    """chunk-complete that replies to valid messages; bad input is ``ignored``, or answered
    with an error and then the connection is ``closed``."""

    async def handle(conn: ServerConnection) -> None:
        replies = 0
        async for text in conn:
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            message = obj.get("message") if isinstance(obj, dict) else None
            if isinstance(message, str) and message and message != "boom":
                replies += 1
                reply_id = f"bot_{replies}"
                await conn.send(json.dumps({"type": "chunk", "message_id": reply_id, "text": "Hi"}))
                await conn.send(json.dumps({"type": "complete", "message_id": reply_id}))
            elif on_bad == "closed":
                await conn.send(json.dumps({"type": "error", "message": "bad input"}))
                await conn.close()
                return

    return BrokenServer(ws=handle)


@pytest.mark.parametrize(
    ("on_bad", "rule"),
    [("ignored", "bad-input.error"), ("closed", "bad-input.stays-open")],
)
def test_chunk_complete_bad_input_breakage_is_found(on_bad: str, rule: str) -> None:
    with chunk_server(on_bad) as server:
        args = ["check", "chunk-complete", server.url, "--probe", "bad-input", "-f", "json"]
        result = cli(*args, "--idle-timeout", "0.5")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert f"chunk-complete.{rule}" in probe_findings(result, "bad-input")


def test_a_server_closing_after_an_error_is_no_internal_error(tmp_path: Path) -> None:
    with chunk_server("closed") as server:
        messages = tmp_path / "m.json"
        messages.write_text(json.dumps(["boom", "hi"]))  # boom: an error, then the close
        result = cli("check", "chunk-complete", server.url, "--messages", str(messages))
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stderr
    assert "internal error" not in result.stderr


def ws_events_server(verify: bool) -> BrokenServer:
    """A ws-events server that never checks tokens (``verify`` False: any token joins)."""

    async def handle(conn: ServerConnection) -> None:
        await conn.send(json.dumps({"type": "connected", "data": {"message": "hi"}}))
        async for text in conn:
            obj = json.loads(text)
            if obj.get("type") == "create_chat":
                if verify or not obj.get("data", {}).get("token"):
                    error = {"type": "error", "data": {"message": "Authentication required"}}
                    await conn.send(json.dumps(error))
                    continue
                await conn.send(json.dumps({"type": "authenticated", "data": {"userId": "u"}}))
                created = {"type": "chat_created", "data": {"chatId": "c1", "title": "New"}}
                await conn.send(json.dumps(created))

    return BrokenServer(ws=handle)


def test_ws_events_accepting_bad_tokens_is_found() -> None:
    with ws_events_server(verify=False) as server:
        result = cli("check", "ws-events", server.url, "--probe", "auth", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert probe_findings(result, "auth") == ["ws-events.auth.refused"] * 2


def test_ws_events_refusing_everything_fails_with_the_hint() -> None:
    with ws_events_server(verify=True) as server:
        result = cli("check", "ws-events", server.url, "--quick")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "pass --token JWT, or --jwt-secret SECRET to mint one" in result.stdout


# --- baselines --------------------------------------------------------------------------------


def test_a_baseline_passes_known_findings_and_fails_when_stale(tmp_path: Path) -> None:
    known = tmp_path / "baseline.json"
    with http_routes(goose_route(empty_401=True, check_key=False)) as server:
        args = ["check", "goose", server.url, "--probe", "auth"]
        first = cli(*args, "--write-baseline", str(known))
        assert first.exit_code == ExitCode.CHECK_FAILED
        again = cli(*args, "--baseline", str(known))
        assert again.exit_code == 0, again.stdout
        assert "known (baseline): goose.auth.refused" in again.stdout
    with http_routes(goose_route(empty_401=True, check_key=True)) as fixed:
        stale = cli("check", "goose", fixed.url, "--probe", "auth", "--baseline", str(known))
    assert stale.exit_code == ExitCode.CHECK_FAILED
    assert "baseline is stale: remove auth goose.auth.refused" in stale.stdout


def test_baselines_and_probes_need_a_live_url(tmp_path: Path) -> None:
    for flag in ("--baseline", "--write-baseline", "--probe"):
        result = cli("check", "goose", str(tmp_path), flag, "x")
        assert result.exit_code == ExitCode.USAGE
        assert f"{flag} needs a live URL" in result.stderr
    bad = tmp_path / "b.json"
    bad.write_text("[]")
    result = cli("check", "goose", "http://127.0.0.1:9", "--baseline", str(bad))
    assert result.exit_code == ExitCode.USAGE
    result = cli("check", "goose", "http://127.0.0.1:9", "--probe", "nope")
    assert result.exit_code == ExitCode.USAGE
    assert "goose has no probe 'nope'" in result.stderr


# --- one rule broken on a third-party stack (tests/conformant_servers.py) ---------------------

FASTAPI_BREAKS = [
    ("goose", "exchange", "ping-then-silence", "goose.ping.interval"),
    # Not listed, the reply cannot be deleted either: delete.reply follows from the same fault.
    ("message-stream", "history", "history-without-reply", "message-stream.history.order"),
    ("message-stream", "history", "history-newest-first", "message-stream.history.order"),
    ("message-stream", "history", "delete-unknown-204", "message-stream.delete.unknown"),
    ("message-stream", "bad-input", "empty-content-accepted", "message-stream.bad-input.empty"),
    ("goose", "bad-input", "any-content-type", "goose.bad-input.status"),
    ("goose", "session", "session-forgets", "goose.session.history"),
    ("chunk-complete", "conversation", "reuse-bot-id", "chunk-complete.message-id.new"),
]


@pytest.mark.parametrize(
    ("protocol", "probe", "breaks", "rule"), FASTAPI_BREAKS, ids=[b[2] for b in FASTAPI_BREAKS]
)
def test_a_fastapi_server_breaking_one_rule_fails_naming_it(
    protocol: str, probe: str, breaks: str, rule: str
) -> None:
    with ThirdParty(create_app(breaks=breaks)) as server:
        args = ["check", protocol, server.url, "--secret-key", GOOSE_KEY, "-f", "json"]
        result = cli(*args, "--probe", probe, "--strict")  # goose.ping.interval is a SHOULD
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stdout
    found = set(probe_findings(result, probe))
    also = {"message-stream.delete.reply"} if breaks == "history-without-reply" else set()
    assert found == {rule} | also


WS_BREAKS = [
    ("auth", "accept-expired"),
    ("auth", "accept-bad-signature"),
    ("auth", "accept-alg-none"),
    ("conversation", "reuse-message-id"),
    ("bad-input", "bad-input-ignored"),
    ("bad-input", "bad-input-closes"),
    ("history", "join-without-history"),
]
WS_RULES = {
    "auth": "ws-events.auth.refused",
    "conversation": "ws-events.message-id.unique",
    "bad-input-ignored": "ws-events.bad-input.error",
    "bad-input-closes": "ws-events.bad-input.stays-open",
    "history": "ws-events.history.join",
}


@pytest.mark.parametrize(("probe", "breaks"), WS_BREAKS, ids=[b[1] for b in WS_BREAKS])
def test_a_ws_events_server_breaking_one_rule_fails_naming_it(probe: str, breaks: str) -> None:
    with ThirdParty(ws=ws_events(breaks=breaks)) as server:
        args = ["check", "ws-events", server.url, "--jwt-secret", JWT_SECRET, "-f", "json"]
        result = cli(*args, "--probe", probe, "--idle-timeout", "0.5")
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stdout
    rule = WS_RULES[breaks] if breaks in WS_RULES else WS_RULES[probe]
    found = probe_findings(result, probe)
    assert set(found) == {rule}
    if probe == "auth":
        assert len(found) == 1  # only the one token the server lets through


# --- a silent stream costs --idle-timeout, not --timeout -------------------------------------


def test_a_silent_sse_stream_fails_every_probe_after_the_idle_timeout() -> None:
    # One delta, then silence: every probe of the full suite ends on --idle-timeout; with
    # --timeout at an hour, a run that waited for it would never end.
    delta = b'event: message\ndata: {"delta": "Hi"}\n\n'
    with http_server([delta], end="hang") as server:
        args = ["check", "sse-delta-done", server.url, "-f", "json", "--probe", "exchange"]
        result = cli(*args, "--probe", "conversation", "--idle-timeout", "0.3", "--timeout", "3600")
    assert result.exit_code == ExitCode.CHECK_FAILED
    for probe in ("exchange", "conversation"):
        assert "sse-delta-done.stalled" in probe_findings(result, probe)
    assert "nothing arrived for 0.3 s" in result.stdout
