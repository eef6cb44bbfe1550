"""Every command against the real mock server, and every exit code for real."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import get, names
from streamctl.core.script import default_reply
from streamctl.core.transcript import Close, Disconnect, load
from streamctl.errors import ExitCode
from tests.broken_servers import http_server, ws_server
from tests.live import reconfigured
from tests.test_net_http import DELTA, closed_port_url

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"^ttft \d+ ms \| \d+ tokens \| [\d.]+ tokens/s \| total \d+ ms \| ended: complete "
    r"\(the protocol's terminator arrived\)$"
)
SSE_NAMES = [n for n in names() if get(n).transport == "sse"]
WS_NAMES = [n for n in names() if get(n).transport == "ws"]


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, prog_name="streamctl")


def auth(server: LiveServer, protocol: str) -> list[str]:
    """The credentials the mock wants for ``protocol`` (none for most)."""
    if protocol == "ws-events":
        return ["--token", mint_dev_token(server.config.jwt_secret)]
    if protocol == "goose":
        return ["--secret-key", server.config.goose_secret]
    return []


def reply(message: str) -> str:
    return default_reply(message).text


# --- send ---------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", names())
def test_send_prints_the_reply_and_a_summary(live_server: LiveServer, protocol: str) -> None:
    result = cli(
        "send", protocol, live_server.base_url, "hello there", *auth(live_server, protocol)
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == reply("hello there") + "\n"
    assert SUMMARY.match(result.stderr.splitlines()[-1]), result.stderr


@pytest.mark.parametrize("protocol", names())
def test_send_json_prints_every_event_with_its_time(live_server: LiveServer, protocol: str) -> None:
    args = ["send", protocol, live_server.base_url, "hi", "--json", *auth(live_server, protocol)]
    rows = [json.loads(line) for line in cli(*args).stdout.splitlines()]
    assert "".join(r["text"] for r in rows) == reply("hi")
    times = [r["t"] for r in rows]
    assert times == sorted(times)
    assert rows[-1]["done"] is True
    if get(protocol).transport == "sse":
        assert all(r["sse"]["type"] for r in rows)
    else:
        assert all(isinstance(r["message"], str) for r in rows)


def test_send_raw_prints_the_wire_bytes(live_server: LiveServer) -> None:
    result = cli("send", "sse-delta-done", live_server.base_url, "hi", "--raw")
    assert result.stdout_bytes.startswith(b'event: message\r\ndata: {"delta": "You"}\r\n\r\n')
    assert result.stdout_bytes.endswith(b'data: {"done": true}\r\n\r\n')


def test_send_raw_prints_one_websocket_message_per_line(live_server: LiveServer) -> None:
    result = cli("send", "chunk-complete", live_server.base_url, "hi", "--raw")
    lines = result.stdout.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["chunk"] * (len(lines) - 1) + [
        "complete"
    ]


def test_send_ndjson(live_server: LiveServer) -> None:
    result = cli("send", "message-stream", live_server.base_url, "hi", "--ndjson", "--chat", "9")
    assert result.exit_code == 0
    assert result.stdout == reply("hi") + "\n"


def test_send_debug_shows_the_wire_with_secrets(live_server: LiveServer) -> None:
    result = cli("send", "goose", live_server.base_url, "hi", "--debug", "--secret-key", "test")
    assert result.exit_code == 0
    assert "> POST /reply" in result.stderr
    assert "< 200" in result.stderr
    assert "x-secret-key: <redacted>" in result.stderr.lower()


def test_send_passes_headers_to_the_server(live_server: LiveServer) -> None:
    # The mock picks a scenario from this header: proof the header arrived.
    args = ["send", "goose", live_server.base_url, "hi", "-H", "X-Streamctl-Scenario: plain"]
    plain = json.loads((ROOT / "fixtures/scenarios/plain.json").read_text())
    assert cli(*args).stdout == plain["reply"] + "\n"


# --- exit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", names())
def test_an_unreachable_server_exits_3(protocol: str) -> None:
    result = cli("send", protocol, closed_port_url(), "hi")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert result.stderr.startswith("streamctl: server unreachable: cannot connect to")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("protocol", WS_NAMES)
def test_a_refused_websocket_upgrade_exits_4(live_server: LiveServer, protocol: str) -> None:
    result = cli("send", protocol, live_server.base_url + "?scenario=nope", "hi")
    assert result.exit_code == ExitCode.UPGRADE_REFUSED
    url = live_server.base_url.replace("http:", "ws:") + get(protocol).stream_endpoint.path
    refused = f"streamctl: WebSocket upgrade to {url}?scenario=nope refused: HTTP 404"
    assert result.stderr.startswith(refused)


@pytest.mark.parametrize("protocol", SSE_NAMES)
def test_an_http_error_status_exits_5(live_server: LiveServer, protocol: str) -> None:
    result = cli("send", protocol, live_server.base_url + "?scenario=nope", "hi")
    assert result.exit_code == ExitCode.HTTP_STATUS
    assert result.stderr.startswith("streamctl: server refused the request: HTTP 404 from ")
    assert "scenario=nope: " in result.stderr
    assert "unknown scenario" in result.stderr


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_an_unknown_fault_lists_every_known_fault(live_server: LiveServer, protocol: str) -> None:
    from streamctl.engine.fault_parsing import FAULTS

    result = cli("send", protocol, live_server.base_url + "?fault=nope", "hi")
    assert result.exit_code != 0
    assert "unknown fault 'nope' (known: " in result.stderr
    assert all(kind.name in result.stderr for kind in FAULTS)
    assert "…" not in result.stderr


def test_a_full_endpoint_url_without_a_scheme_is_the_chat_it_names(
    live_server: LiveServer,
) -> None:
    """docs/cli.md: a full endpoint URL works; like curl, ``host:port`` means http://."""
    url = live_server.base_url.removeprefix("http://") + "/api/web/v1/chats/3/messages/stream"
    result = cli("send", "message-stream", url, "hi there", "--debug")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == reply("hi there")
    assert "> POST /api/web/v1/chats/3/messages/stream\n" in result.stderr
    (entry,) = live_server.server.journal.entries()
    assert entry["path"] == "/api/web/v1/chats/3/messages/stream"


def test_a_wrong_goose_secret_exits_5(live_server: LiveServer) -> None:
    result = cli("send", "goose", live_server.base_url, "hi", "--secret-key", "wrong")
    assert result.exit_code == ExitCode.HTTP_STATUS
    url = f"{live_server.base_url}/reply"
    assert result.stderr == (
        f"streamctl: server refused the request: HTTP 401 from POST {url}; "
        "pass --secret-key KEY (the server's GOOSE_SERVER__SECRET_KEY)\n"
    )


def test_json_instead_of_a_stream_exits_6() -> None:
    headers = (("content-type", "application/json"),)
    with http_server([b'{"error": "model overloaded"}'], headers=headers) as server:
        result = cli("send", "sse-delta-done", server.url, "hi")
    assert result.exit_code == ExitCode.CONTENT_TYPE
    assert result.stderr == (
        "streamctl: not a stream: expected text/event-stream, got application/json: "
        '{"error": "model overloaded"}\n'
    )


@pytest.mark.parametrize("protocol", names())
def test_a_protocol_error_event_exits_7(live_server: LiveServer, protocol: str) -> None:
    url = live_server.base_url + "?scenario=error-mid-stream"
    result = cli("send", protocol, url, "hi", *auth(live_server, protocol))
    assert result.exit_code == ExitCode.PROTOCOL_ERROR, result.stderr
    assert result.stderr.splitlines()[-1].startswith("streamctl: the server reported an error: ")


def test_ws_events_without_a_token_exits_7(live_server: LiveServer) -> None:
    result = cli("send", "ws-events", live_server.base_url, "hi")
    assert result.exit_code == ExitCode.PROTOCOL_ERROR
    assert "[server error: " in result.stderr


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_a_stream_that_never_ends_exits_8_at_the_timeout(protocol: str) -> None:
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
    server = http_server([DELTA], end="hang") if protocol == "sse-delta-done" else None
    with server or ws_server([chunk], end="hang") as running:
        result = cli("send", protocol, running.url, "hi", "--timeout", "0.3")
    assert result.exit_code == ExitCode.TIMEOUT
    assert result.stdout == "Hi\n"
    assert "ended: timeout" in result.stderr
    assert result.stderr.splitlines()[-1] == "streamctl: timeout: " + (
        "no end of stream within 0.3 s"
        if protocol == "sse-delta-done"
        else "no end of the reply within 0.3 s"
    )


def test_max_events_stops_an_endless_stream_cleanly() -> None:
    with http_server([DELTA * 10], end="hang") as server:
        result = cli("send", "sse-delta-done", server.url, "hi", "--max-events", "4")
    assert result.exit_code == 0
    assert result.stdout == "HiHiHiHi\n"
    assert "ended: max-events (stopped after 4 events)" in result.stderr


def test_a_dropped_connection_exits_9() -> None:
    with http_server([DELTA], end="drop") as server:
        result = cli("send", "sse-delta-done", server.url, "hi")
    assert result.exit_code == ExitCode.CONNECTION_LOST
    assert "connection dropped" in result.stderr


def test_a_stream_closed_before_its_terminator_exits_9() -> None:
    with http_server([DELTA]) as server:
        result = cli("send", "sse-delta-done", server.url, "hi")
    assert result.exit_code == ExitCode.CONNECTION_LOST
    assert result.stderr.splitlines()[-1] == (
        "streamctl: the server ended the stream before the protocol's terminator"
    )
    assert result.stderr.splitlines()[-2].endswith(
        "| ended: cut short (the server ended the stream before the protocol's terminator)"
    )


def test_a_reply_ended_by_an_error_event_is_not_called_complete(
    live_server: LiveServer,
) -> None:
    url = live_server.base_url + "?scenario=error-mid-stream"
    result = cli("send", "sse-delta-done", url, "hi")
    assert result.exit_code != 0
    assert "| ended: error event (the server reported: " in result.stderr
    assert "ended: complete" not in result.stderr


# --- record -------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", names())
def test_record_writes_a_transcript_that_passes_check(
    live_server: LiveServer, protocol: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{protocol}.jsonl"
    credentials = auth(live_server, protocol)
    result = cli("record", protocol, live_server.base_url, "hi", "-o", str(path), *credentials)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == reply("hi") + "\n"
    assert result.stderr.endswith(f"wrote {path}\n")
    text = path.read_text()
    for secret in credentials[1::2]:
        assert secret not in text
    transcript = load(text)
    assert transcript.protocol == protocol
    assert transcript.end is not None
    assert transcript.end.outcome == "complete"
    assert transcript.header.meta["url"] == live_server.base_url
    checked = cli("check", protocol, str(path))
    assert checked.exit_code == 0, checked.stdout


def test_record_to_stdout_prints_only_the_transcript(live_server: LiveServer) -> None:
    result = cli("record", "sse-delta-done", live_server.base_url, "hi", "-o", "-")
    transcript = load(result.stdout)
    assert transcript.end is not None
    assert transcript.end.outcome == "complete"


def test_record_a_timeout_leaves_a_valid_transcript(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with http_server([DELTA, DELTA], end="hang") as server:
        result = cli(
            "record", "sse-delta-done", server.url, "hi", "-o", str(path), "--timeout", "0.3"
        )
    assert result.exit_code == ExitCode.TIMEOUT
    transcript = load(path.read_text())
    assert b"".join(f.payload for _, f in transcript.frames()) == DELTA * 2  # type: ignore[misc]
    assert transcript.end is not None
    assert transcript.end.outcome == "timeout"


def test_record_a_dropped_connection_leaves_a_valid_transcript(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with http_server([DELTA], end="drop") as server:
        result = cli("record", "sse-delta-done", server.url, "hi", "-o", str(path))
    assert result.exit_code == ExitCode.CONNECTION_LOST
    transcript = load(path.read_text())
    assert len(list(transcript.frames())) == 1
    assert isinstance(transcript.records[-2], Disconnect)
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


def test_record_an_unreachable_server_leaves_a_transcript_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    result = cli("record", "chunk-complete", closed_port_url(), "hi", "-o", str(path))
    assert result.exit_code == ExitCode.UNREACHABLE
    transcript = load(path.read_text())
    assert transcript.header.response is None
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_ctrl_c_during_record_leaves_a_transcript_marked_interrupted(
    protocol: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
    server = http_server([DELTA], end="hang") if protocol == "sse-delta-done" else None
    with server or ws_server([chunk], end="hang") as running:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamctl",
                "record",
                protocol,
                running.url,
                "hi",
                "-o",
                str(path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        # The reply's first token is printed after its frame was written: wait for it.
        assert proc.stdout.read(2) == b"Hi"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert stderr.decode().endswith("streamctl: interrupted\n")
    transcript = load(path.read_text())
    assert len(list(transcript.frames())) == 1
    assert transcript.end is not None
    assert transcript.end.outcome == "interrupted"


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_ctrl_c_during_send_still_prints_the_summary(protocol: str) -> None:
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
    server = http_server([DELTA], end="hang") if protocol == "sse-delta-done" else None
    with server or ws_server([chunk], end="hang") as running:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamctl", "send", protocol, running.url, "hi"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        assert proc.stdout.read(2) == b"Hi"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    summary, last = stderr.decode().splitlines()[-2:]
    assert re.match(r"^ttft \d+ ms \| 1 tokens \| .* \| ended: interrupted$", summary), summary
    assert last == "streamctl: interrupted"


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_sigterm_during_record_keeps_what_arrived_and_ends_the_transcript(
    protocol: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    chunk = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
    server = http_server([DELTA], end="hang") if protocol == "sse-delta-done" else None
    with server or ws_server([chunk], end="hang") as running:
        command = ["record", protocol, running.url, "hi", "-o", str(path)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamctl", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        assert proc.stdout.read(2) == b"Hi"  # printed after its frame was written
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert stderr.decode().endswith("streamctl: interrupted\n")
    transcript = load(path.read_text())
    assert len(list(transcript.frames())) == 1
    assert transcript.end is not None
    assert transcript.end.outcome == "interrupted"
    if protocol == "chunk-complete":  # the client says it is going away
        closes = [r for r in transcript.records if isinstance(r, Close)]
        assert [(c.sender, c.code) for c in closes][:1] == [("client", 1001)]


# --- chat ---------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", names())
def test_chat_keeps_the_conversation(live_server: LiveServer, protocol: str) -> None:
    turns = json.loads((ROOT / "fixtures/scenarios/conversation.json").read_text())["turns"]
    url = live_server.base_url + "?scenario=conversation"
    result = cli(
        "chat",
        protocol,
        url,
        *auth(live_server, protocol),
        input="hello\n\nand then?\n/quit\nignored\n",
    )
    assert result.exit_code == 0, result.stderr
    # sse-delta-done keeps no conversation at all (each GET stands alone): every turn is a
    # first turn there.
    second = turns[0] if protocol == "sse-delta-done" else turns[1]
    assert result.stdout == f"{turns[0]['reply']}\n{second['reply']}\n"


@pytest.mark.parametrize("protocol", ["goose", "message-stream", "ws-events"])
def test_each_chat_run_starts_a_conversation_of_its_own(
    live_server: LiveServer, protocol: str
) -> None:
    turns = json.loads((ROOT / "fixtures/scenarios/conversation.json").read_text())["turns"]
    url = live_server.base_url + "?scenario=conversation"
    for _ in range(2):
        result = cli("chat", protocol, url, *auth(live_server, protocol), input="hello\n")
        assert result.stdout == f"{turns[0]['reply']}\n", result.stderr
    named = ("--chat", "42") if protocol == "message-stream" else ("--session", "s1")
    if protocol != "ws-events":  # (its chats are created by the server)
        outputs = [
            cli("chat", protocol, url, *auth(live_server, protocol), *named, input="hi\n").stdout
            for _ in range(2)
        ]
        assert outputs == [f"{turns[0]['reply']}\n", f"{turns[1]['reply']}\n"]


@pytest.mark.parametrize("protocol", ["sse-delta-done", "chunk-complete"])
def test_ctrl_c_in_chat_cancels_the_reply_and_a_second_leaves(
    live_server: LiveServer, protocol: str
) -> None:
    with reconfigured(live_server, speed=1.0) as paced:  # the slow reply, slow
        _cancel_twice(paced.base_url + "?scenario=slow", protocol)


def _cancel_twice(url: str, protocol: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamctl",
            "chat",
            protocol,
            url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdin.write(b"one\n")
    proc.stdin.flush()
    assert proc.stdout.read(4) == b"This"  # the slow reply is streaming
    proc.send_signal(signal.SIGINT)
    line = proc.stderr.readline()
    assert line == b"[reply cancelled: Ctrl-C or Ctrl-D to leave]\n", line + proc.stderr.read()
    proc.stdin.write(b"two\n")
    proc.stdin.flush()
    assert proc.stdout.read(5) == b"\nThis"  # the next turn is answered, from its start
    proc.send_signal(signal.SIGINT)  # cancels the second reply
    assert proc.stderr.readline() == b"[reply cancelled: Ctrl-C or Ctrl-D to leave]\n"
    proc.send_signal(signal.SIGINT)  # at the prompt: leave
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    # chat's SIGINT handler raises KeyboardInterrupt only at the blocked prompt, so a Ctrl-C
    # cannot surface from whatever else runs (a garbage collector's weakref callback included).
    assert b"Traceback" not in stderr, stderr
    assert b"Exception ignored" not in stderr, stderr


def test_chat_ends_at_end_of_input(live_server: LiveServer) -> None:
    result = cli("chat", "chunk-complete", live_server.base_url, input="one\ntwo")
    assert result.exit_code == 0
    assert result.stdout == f"{reply('one')}\n{reply('two')}\n"


def test_chat_shows_server_errors_and_goes_on(live_server: LiveServer) -> None:
    result = cli("chat", "ws-events", live_server.base_url, input="one\ntwo\n")
    assert result.exit_code == 0
    assert result.stderr.count("[server error: ") == 2


def test_chat_with_an_unreachable_server_exits_3() -> None:
    result = cli("chat", "goose", closed_port_url(), input="hi\n")
    assert result.exit_code == ExitCode.UNREACHABLE


# --- check against the mock ---------------------------------------------------------------


@pytest.mark.parametrize("protocol", names())
def test_check_a_live_server_passes(live_server: LiveServer, protocol: str) -> None:
    secret = ["--jwt-secret", live_server.config.jwt_secret]
    result = cli("check", protocol, live_server.base_url, *auth(live_server, protocol), *secret)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1].endswith("; PASS"), result.stdout  # SHOULD: timing
    assert " 0 failed, 0 not run;" in result.stdout.splitlines()[-1]


def test_check_takes_a_url_without_its_scheme(live_server: LiveServer) -> None:
    bare = live_server.base_url.removeprefix("http://")
    result = cli("check", "sse-delta-done", bare, "--quick")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"http://{bare} (sse-delta-done: 1 probes)"), result.stdout


@pytest.mark.parametrize("protocol", names())
def test_check_a_scenario_of_several_messages(
    live_server: LiveServer, protocol: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"messages": ["one", "two", "three"]}))
    args = ["check", protocol, live_server.base_url, "--messages", str(scenario), "-f", "json"]
    result = cli(*args, *auth(live_server, protocol))
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    # HTTP: one exchange per message; WebSocket: one connection carrying all three.
    assert len(report["targets"]) == (3 if get(protocol).transport == "sse" else 1)
    assert report["failed"] is False


def test_check_a_live_refusal_reports_it_as_a_finding(live_server: LiveServer) -> None:
    result = cli("check", "chunk-complete", live_server.base_url + "?scenario=nope")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "ws.handshake  upgrade answered with status 404" in result.stdout
    result = cli("check", "goose", live_server.base_url, "--secret-key", "wrong")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "sse.http.status  status is 401" in result.stdout


def test_check_an_unreachable_server_exits_3() -> None:
    result = cli("check", "goose", closed_port_url())
    assert result.exit_code == ExitCode.UNREACHABLE
    assert result.stdout == ""


def test_check_junit_for_ci(live_server: LiveServer, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    report = tmp_path / "report.xml"
    result = cli("check", "sse-delta-done", live_server.base_url, "-f", "junit", "-o", str(report))
    assert result.exit_code == 0
    assert result.stdout == ""
    root = ET.parse(report).getroot()
    probes = [case.get("name") for case in root.iter("testcase")]
    assert probes == ["exchange", "conversation", "bad-input"]  # one testcase per probe
    assert root.get("failures") == "0"


def test_the_time_to_check_an_endless_stream_is_bounded() -> None:
    start = time.monotonic()
    with http_server([DELTA], end="hang") as server:
        result = cli("check", "sse-delta-done", server.url, "--quick", "--timeout", "0.5")
    assert time.monotonic() - start < 10
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "sse-delta-done.done.missing" in result.stdout
    assert "the recording ended: timeout" in result.stdout


# --- inspect and token against the mock ---------------------------------------------------


def test_inspect_decodes_what_the_live_server_streams(live_server: LiveServer) -> None:
    import httpx

    body = httpx.get(live_server.url("/api/chat/stream?message=hi"), timeout=10).content
    result = cli("inspect", input=body)  # type: ignore[arg-type]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(json.loads(r["data"]).get("delta", "") for r in rows) == reply("hi")
    assert rows[-1] == {"type": "message", "data": '{"done": true}', "id": "", "retry": None}
    assert result.stderr == ""


def test_a_token_from_streamctl_token_is_accepted_by_the_server(live_server: LiveServer) -> None:
    token = cli("token", "--secret", live_server.config.jwt_secret, "--user", "bob").stdout.strip()
    result = cli("send", "ws-events", live_server.base_url, "hi", "--token", token, "--json")
    assert result.exit_code == 0
    assert '\\"userId\\":\\"bob\\"' in result.stdout
