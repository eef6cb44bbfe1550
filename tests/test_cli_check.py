"""``streamctl check`` finds every kind of breakage: in transcripts and on broken servers.

The transcripts come from each protocol's own test module (its BREAKS table: one transcript per
rule, breaking only that rule), so every rule of every protocol is shown to reach the report,
its exit code and every report format.
"""

from __future__ import annotations

import importlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from streamctl.cli.app import app
from streamctl.core.protocols import get, names
from streamctl.core.spec import Level
from streamctl.core.transcript import Transcript, dump
from streamctl.errors import ExitCode
from tests.broken_servers import SSE_HEAD, http_server, ws_server
from tests.builders import sse_transcript, ws_transcript

DELTA = b'event: message\r\ndata: {"delta": "Hi"}\r\n\r\n'
DONE = b'event: message\r\ndata: {"done": true}\r\n\r\n'
CHUNK = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
COMPLETE = json.dumps({"type": "complete", "message_id": "bot_1"})


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="streamctl")


def _as_transcript(protocol: str, case: Any) -> Transcript:
    if isinstance(case, Transcript):
        return case
    items, kw = case if isinstance(case, tuple) else (case, {})
    build = sse_transcript if get(protocol).transport == "sse" else ws_transcript
    return build(protocol, list(items), **kw)


def broken_transcripts() -> list[tuple[str, str, Transcript]]:
    """``(protocol, rule, transcript breaking only that rule)`` for every protocol."""
    cases = []
    for protocol in names():
        module = importlib.import_module(f"tests.test_protocol_{protocol.replace('-', '_')}")
        for rule, case in sorted(module.BREAKS.items()):
            cases.append((protocol, rule, _as_transcript(protocol, case)))
    return cases


CASES = broken_transcripts()


def test_every_protocol_brings_broken_transcripts() -> None:
    assert {protocol for protocol, _, _ in CASES} == set(names())


@pytest.mark.parametrize(("protocol", "rule", "transcript"), CASES, ids=[c[1] for c in CASES])
def test_each_finding_reaches_the_report_and_the_exit_code(
    protocol: str, rule: str, transcript: Transcript, tmp_path: Path
) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(dump(transcript))
    level = get(protocol).spec.rule(rule).level
    result = cli("check", protocol, str(path), "-f", "json")
    report = json.loads(result.stdout)
    assert [f["rule"] for f in report["targets"][0]["findings"]] == [rule]
    if level is Level.MUST:
        assert result.exit_code == ExitCode.CHECK_FAILED
    else:
        assert result.exit_code == 0
        assert cli("check", protocol, str(path), "--strict").exit_code == ExitCode.CHECK_FAILED
    text = cli("check", protocol, str(path)).stdout
    assert f"  {level.value} (1)\n    {rule}  " in text


@pytest.mark.parametrize("protocol", names())
def test_a_directory_of_broken_transcripts_as_junit(protocol: str, tmp_path: Path) -> None:
    mine = [(rule, t) for p, rule, t in CASES if p == protocol]
    for index, (_, transcript) in enumerate(mine):
        (tmp_path / "nested").mkdir(exist_ok=True)
        (tmp_path / "nested" / f"{index:03}.jsonl").write_text(dump(transcript))
    result = cli("check", protocol, str(tmp_path), "-f", "junit")
    assert result.exit_code == ExitCode.CHECK_FAILED
    root = ET.fromstring(result.stdout)
    suites = root.findall("testsuite")
    assert len(suites) == len(mine)
    rules = get(protocol).spec.rules
    for suite, (rule, _) in zip(suites, mine, strict=True):
        assert suite.get("tests") == str(len(rules))
        case = suite.find(f"testcase[@name='{rule}']")
        assert case is not None
        failing = get(protocol).spec.rule(rule).level is Level.MUST
        assert (case.find("failure") is not None) == failing
        assert (case.find("system-out") is not None) == (not failing)


def test_a_text_report_shows_frames_excerpts_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(dump(sse_transcript("sse-delta-done", [DELTA, b"data: not json\r\n\r\n"])))
    result = cli("check", "sse-delta-done", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert result.stdout.splitlines()[:6] == [
        f"{path} (sse-delta-done, ended: complete)",
        "  MUST (2)",
        "    sse-delta-done.json  frame 1: frame payload is not valid JSON",
        "      > not json",
        "      source: docs/protocols/sse-delta-done.md (FastAPI + sse-starlette, EventSource "
        "client)",
        "    sse-delta-done.done.missing  frame 2: stream ended in state 'streaming', still "
        "expecting delta, done, error, tool; the recording ended: complete",
    ]
    assert result.stdout.splitlines()[-2:] == [
        "  FAIL",
        "1 checked, 1 failed; findings: 2 MUST, 0 SHOULD",
    ]
    assert result.stderr == "streamctl: check failed: 1 of 1 failed\n"


def test_server_text_in_a_report_cannot_reach_the_terminal_or_break_xml(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(dump(sse_transcript("sse-delta-done", [b"data: \x1b[2J\x07\r\n\r\n"])))
    text = cli("check", "sse-delta-done", str(path)).stdout
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
    junit = cli("check", "sse-delta-done", str(path), "-f", "junit").stdout
    ET.fromstring(junit)  # parses: no raw control characters in the XML


def test_a_transcript_of_another_protocol_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(dump(sse_transcript("goose", [b"data: {}\n\n"])))
    result = cli("check", "sse-delta-done", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert "is a goose transcript, not sse-delta-done" in result.stderr


def test_a_directory_skips_other_protocols_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(dump(sse_transcript("goose", [b"data: {}\n\n"])))
    (tmp_path / "b.jsonl").write_text(dump(sse_transcript("sse-delta-done", [DELTA, DONE])))
    result = cli("check", "sse-delta-done", str(tmp_path))
    assert result.exit_code == 0
    assert "skipped" in result.stderr
    assert "1 checked, 0 failed" in result.stdout
    only_goose = tmp_path / "goose"
    only_goose.mkdir()
    (only_goose / "a.jsonl").write_text(dump(sse_transcript("goose", [b"data: {}\n\n"])))
    (only_goose / "b.jsonl").write_text(dump(sse_transcript("goose", [b"data: {}\n\n"])))
    assert cli("check", "sse-delta-done", str(only_goose)).exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not a valid transcript: empty transcript"),
        ('{"format": "something else"}\n', "not a streamctl transcript"),
    ],
)
def test_an_unreadable_transcript_is_a_usage_error(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    result = cli("check", "goose", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_one_unreadable_file_in_a_directory_is_reported_and_the_others_checked(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"\xff\xfe not text")
    (tmp_path / "b.jsonl").write_text(dump(sse_transcript("sse-delta-done", [DELTA, DONE])))
    result = cli("check", "sse-delta-done", str(tmp_path))
    assert f"cannot read {tmp_path / 'a.jsonl'}: " in result.stderr
    assert "(the others are checked)" in result.stderr
    assert "1 checked, 0 failed" in result.stdout


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("check", "goose", str(tmp_path))
    assert result.exit_code == ExitCode.USAGE
    assert "no transcripts or captures (*.jsonl," in result.stderr


@pytest.mark.parametrize(
    ("content", "ok"),
    [
        ('["a", "b"]', True),
        ('{"name": "x", "messages": ["a"]}', True),
        ('{"name": "conversation", "turns": [{"reply": "a"}, {"reply": "b"}]}', True),
        ('{"name": "empty", "turns": []}', False),
        ("[]", False),
        ('{"messages": ["a", 1]}', False),
        ("not json", False),
    ],
)
def test_scenario_files(content: str, ok: bool, tmp_path: Path) -> None:
    from streamctl.cli.check import load_messages
    from streamctl.errors import UsageError

    path = tmp_path / "s.json"
    path.write_text(content)
    if ok:
        assert load_messages(path)
    else:
        with pytest.raises(UsageError, match=str(path)):
            load_messages(path)


def test_a_scenario_needs_a_live_target(tmp_path: Path) -> None:
    result = cli("check", "goose", str(tmp_path), "--messages", str(tmp_path / "s.json"))
    assert result.exit_code == ExitCode.USAGE
    assert "--messages needs a live URL" in result.stderr


# --- broken live servers ------------------------------------------------------------------

NO_CACHE = (("content-type", "text/event-stream"),)
SSE_SERVERS: dict[str, tuple[list[bytes], dict[str, Any]]] = {
    "sse.http.status": ([b"oops"], {"status": 500}),
    "sse.http.content-type": (
        [DELTA, DONE],
        {"headers": (("content-type", "text/plain"), ("cache-control", "no-store"))},
    ),
    "sse.http.no-content-length": (
        [DELTA + DONE],
        {"chunked": False, "headers": (*SSE_HEAD, ("content-length", str(len(DELTA + DONE))))},
    ),
    "sse.http.cache-control": ([DELTA, DONE], {"headers": NO_CACHE}),
    "sse.utf8": ([b'event: message\r\ndata: {"delta": "\xff"}\r\n\r\n', DONE], {}),
    "sse.incomplete-event": ([DELTA, DONE, b"data: cut"], {}),
    "sse.retry-digits": ([b"retry: soon\r\n" + DELTA, DONE], {}),
    "sse.id-nul": ([b"id: a\x00b\r\n" + DELTA, DONE], {}),
    "sse.unknown-field": ([b"colour: red\r\n" + DELTA, DONE], {}),
    "sse.event-without-data": ([b"event: message\r\n\r\n", DELTA, DONE], {}),
    "sse-delta-done.json": ([b"data: nope\r\n\r\n", DONE], {}),
    "sse-delta-done.event-name": ([b'event: delta\r\ndata: {"delta": "x"}\r\n\r\n', DONE], {}),
    "sse-delta-done.done.missing": ([DELTA], {}),
    "sse-delta-done.done.not-last": ([DELTA, DONE, DELTA], {}),
}


@pytest.mark.parametrize("rule", sorted(SSE_SERVERS))
def test_check_finds_what_a_broken_sse_server_sends(rule: str) -> None:
    chunks, kwargs = SSE_SERVERS[rule]
    with http_server(chunks, **kwargs) as server:
        result = cli(
            "check", "sse-delta-done", server.url, "--quick", "-f", "json", "--linger", "0.3"
        )
    findings = json.loads(result.stdout)["probes"][0]["findings"]
    refused = ["check.reply"] if rule == "sse.http.status" else []  # no reply, no pass
    assert [f["rule"] for f in findings] == [*refused, rule]
    level = get("sse-delta-done").spec.rule(rule).level
    expected = ExitCode.CHECK_FAILED if level is Level.MUST else ExitCode.OK
    assert result.exit_code == expected


def test_check_finds_a_dropped_sse_stream() -> None:
    with http_server([DELTA], end="drop") as server:
        result = cli("check", "sse-delta-done", server.url, "--quick")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "the recording ended: error" in result.stdout


WS_SERVERS: dict[str, tuple[list[str | bytes], dict[str, Any]]] = {
    "ws.handshake": ([], {"refuse": 403}),
    "ws.text": ([b"\x00", CHUNK, COMPLETE], {}),
    "chunk-complete.json": (["nope", CHUNK, COMPLETE], {}),
    "chunk-complete.complete.missing": ([CHUNK], {}),
    "chunk-complete.message-id.same": ([CHUNK, COMPLETE.replace("bot_1", "bot_2")], {}),
    "chunk-complete.type.unknown": ([json.dumps({"type": "ping"}), CHUNK, COMPLETE], {}),
}


@pytest.mark.parametrize("rule", sorted(WS_SERVERS))
def test_check_finds_what_a_broken_websocket_server_sends(rule: str) -> None:
    replies, kwargs = WS_SERVERS[rule]
    with ws_server(replies, **kwargs) as server:
        result = cli(
            "check", "chunk-complete", server.url, "--quick", "-f", "json", "--linger", "0.2"
        )
    findings = json.loads(result.stdout)["probes"][0]["findings"]
    assert rule in [f["rule"] for f in findings]
    assert result.exit_code == ExitCode.CHECK_FAILED


def test_check_bounds_a_silent_websocket_server() -> None:
    with ws_server([CHUNK], end="hang") as server:
        result = cli("check", "chunk-complete", server.url, "--quick", "--idle-timeout", "0.3")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "chunk-complete.complete.missing" in result.stdout
    assert "chunk-complete.stalled  stalled: nothing arrived for 0.3 s" in result.stdout


def test_a_host_port_that_names_a_file_is_checked_as_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "host:8000").write_text(dump(sse_transcript("sse-delta-done", [DELTA, DONE])))
    result = cli("check", "sse-delta-done", "host:8000")
    assert result.exit_code == 0, result.stderr
    assert "1 checked, 0 failed" in result.stdout
