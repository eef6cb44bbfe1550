"""Captures everywhere a transcript is taken: check, inspect, import, serve --scenarios, use()."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from streamctl.cli.app import app
from streamctl.core.check import check
from streamctl.core.transcript import load
from streamctl.engine.scenarios import ScenarioError, load_dirs
from streamctl.errors import ExitCode
from streamctl.testing import MockServer
from tests.test_capture import (
    ERROR_ALONE,
    NOT_JSON,
    PING_FINISH,
    body_of,
    har_bytes,
    recorded,
    sse_entry,
)


def cli(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, prog_name="streamctl")


@pytest.mark.parametrize(
    ("body", "code"),
    [(PING_FINISH, ExitCode.OK), (ERROR_ALONE, ExitCode.OK), (NOT_JSON, ExitCode.CHECK_FAILED)],
)
def test_goose_streams_check_from_a_file_and_from_stdin(
    tmp_path: Path, body: bytes, code: ExitCode
) -> None:
    path = tmp_path / "capture.sse"
    path.write_bytes(body)
    from_file = cli("check", "goose", str(path), "--format", "json")
    from_stdin = cli("check", "goose", "-", "--format", "json", input=body)
    for result in (from_file, from_stdin):
        assert result.exit_code == code, result.output
        assert "not judged (the capture has no timing, chunks, request, response)" in result.stderr
        assert "goose.ping.interval" in result.stderr
    report = json.loads(from_stdin.stdout)
    findings = [f["rule"] for item in report["targets"] for f in item["findings"]]
    assert "goose.ping.interval" in report["targets"][0]["unjudged"]
    assert ("goose.json" in findings) == (code == ExitCode.CHECK_FAILED)


def test_check_reads_a_directory_of_captures_named_by_protocol(tmp_path: Path) -> None:
    (tmp_path / "a.goose.sse").write_bytes(PING_FINISH)
    (tmp_path / "b.goose.sse").write_bytes(NOT_JSON)
    (tmp_path / "c.sse-delta-done.sse").write_bytes(body_of(recorded("sse-delta-done")))
    result = cli("check", "goose", str(tmp_path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "1 of 2 failed" in result.stderr
    assert "skipped" in result.stderr
    assert "c.sse-delta-done.sse" in result.stderr


def test_check_says_why_a_capture_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.sse"
    path.write_bytes(b"hello\n")
    result = cli("check", "goose", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert "cannot tell what this is" in result.stderr
    assert str(path) in result.stderr
    empty = cli("check", "goose", str(tmp_path / "nothing-here"))
    assert empty.exit_code == ExitCode.USAGE
    assert "neither a URL nor" in empty.stderr
    (tmp_path / "x.sse").unlink()
    assert "no transcripts or captures" in cli("check", "goose", str(tmp_path)).stderr


def test_import_keeps_captures_as_transcripts(tmp_path: Path) -> None:
    source = tmp_path / "reply.goose.sse"
    source.write_bytes(PING_FINISH)
    out = tmp_path / "out"
    result = cli("import", str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    written = out / "reply.jsonl"
    assert result.stdout.split() == [str(written)]
    assert "has no timing, chunks, request, response" in result.stderr
    transcript = load(written.read_text(encoding="utf-8"))
    assert check(transcript) == []
    assert transcript.header.unknown
    again = cli("import", str(source), "-o", str(out))
    assert again.exit_code == ExitCode.USAGE
    assert "--force" in again.stderr
    assert cli("import", str(source), "-o", str(out), "--force").exit_code == 0


def test_import_a_har_file_and_stdin(tmp_path: Path) -> None:
    har = har_bytes(
        sse_entry("http://h/reply", PING_FINISH, "POST"),
        sse_entry("http://h/api/chat/stream?message=hi", body_of(recorded("sse-delta-done"))),
    )
    result = cli("import", "-", "-o", str(tmp_path), input=har)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture-1.jsonl", "capture-2.jsonl"]
    named = cli("import", "-", "-o", str(tmp_path), "--name", "x", "-p", "goose", input=har)
    assert named.stdout.split() == [str(tmp_path / "x.jsonl")]
    raw = cli("import", "-", "-o", str(tmp_path), input=PING_FINISH)
    assert raw.exit_code == ExitCode.USAGE
    assert "does not say which protocol" in raw.stderr
    bad = cli("import", "-", "-o", str(tmp_path), "-p", "nope", input=PING_FINISH)
    assert bad.exit_code == ExitCode.USAGE
    assert "unknown protocol" in bad.stderr


def test_import_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("import", "-", "-o", str(blocker), "-p", "goose", input=PING_FINISH)
    assert result.exit_code == ExitCode.USAGE
    assert "cannot write to" in result.stderr


def test_inspect_decodes_the_streams_of_a_har_file() -> None:
    har = har_bytes(sse_entry("http://h/reply", PING_FINISH, "POST"))
    result = cli("inspect", input=har)
    assert result.exit_code == 0, result.output
    data = [json.loads(line)["data"] for line in result.stdout.splitlines()]
    assert data == ['{"type":"Ping"}', '{"type":"Finish","reason":"stop"}']
    ndjson = cli("inspect", input=b'{"type":"message_start"}\n')
    assert ndjson.exit_code == ExitCode.USAGE
    assert "NDJSON body has no SSE events" in ndjson.stderr


def test_serve_scenarios_take_captures(tmp_path: Path) -> None:
    (tmp_path / "hello.goose.sse").write_bytes(PING_FINISH)
    (tmp_path / "browser.har").write_bytes(
        har_bytes(
            sse_entry("http://h/reply", ERROR_ALONE, "POST"),
            sse_entry("http://h/api/chat/stream", body_of(recorded("sse-delta-done"))),
        )
    )
    scenarios = load_dirs([tmp_path])
    assert {s.name: s.kind for s in scenarios.scenarios} == {
        "browser-1": "recorded",
        "browser-2": "recorded",
        "hello": "recorded",
    }
    assert scenarios.get("browser-2", "sse-delta-done").turns[0].tokens
    (tmp_path / "anonymous.sse").write_bytes(PING_FINISH)
    with pytest.raises(ScenarioError, match=r"anonymous.sse: .*does not say which protocol"):
        load_dirs([tmp_path])


def test_mock_server_use_replays_a_capture(mock_server: MockServer, tmp_path: Path) -> None:
    path = tmp_path / "finish.sse"
    path.write_bytes(PING_FINISH)
    assert mock_server.use(path, protocol="goose") == "finish"
    response = httpx.post(
        mock_server.url("goose"),
        headers={"X-Secret-Key": "test"},
        json={"messages": [], "session_id": "s", "session_working_dir": "/"},
    )
    assert response.content == PING_FINISH
