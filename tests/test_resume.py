"""Resume: ``streamctl check --resume`` against the mock server and a server that ignores
``Last-Event-ID``; the comparison itself as a pure function."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.engine.resume import resume_findings
from streamctl.errors import ExitCode
from tests.broken_servers import http_server


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="streamctl")


def rules(result: Result) -> list[str]:
    report = json.loads(result.stdout)
    return [f["rule"] for t in report["targets"] for f in t["findings"]]


def test_the_comparison() -> None:
    assert resume_findings("abc", "a", "bc", "1") == []
    assert [f.rule for f in resume_findings("abc", "a", "c", "1")] == ["resume.lost"]
    assert [f.rule for f in resume_findings("abc", "a", "abc", "1")] == ["resume.duplicated"]
    assert [f.rule for f in resume_findings("abc", "a", "", None)] == ["resume.no-ids"]


@pytest.mark.parametrize("protocol", ["sse-delta-done", "message-stream"])
@pytest.mark.parametrize("cut", ["1", "3", "7"])
def test_the_mock_server_resumes_without_loss_or_repeats(
    live_server: LiveServer, protocol: str, cut: str
) -> None:
    url = f"{live_server.base_url}?ids=1"
    result = cli("check", protocol, url, "--resume", "--resume-after", cut, "-f", "json")
    assert (result.exit_code, rules(result)) == (0, [])


def test_without_ids_resume_is_reported_impossible(live_server: LiveServer) -> None:
    result = cli("check", "sse-delta-done", live_server.base_url, "--resume", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert rules(result) == ["resume.no-ids"]


def _event(i: int, data: dict[str, object]) -> bytes:
    return f"id: {i}\r\nevent: message\r\ndata: {json.dumps(data)}\r\n\r\n".encode()


def test_a_server_that_ignores_last_event_id_repeats_text() -> None:
    chunks = [_event(i, {"delta": w}) for i, w in enumerate(["a", "b", "c", "d"])]
    with http_server([*chunks, _event(4, {"done": True})]) as server:
        result = cli("check", "sse-delta-done", server.url, "--resume", "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert rules(result) == ["resume.duplicated"]


def test_resume_needs_a_live_sse_target(live_server: LiveServer, tmp_path: object) -> None:
    ws = cli("check", "chunk-complete", live_server.base_url, "--resume")
    assert ws.exit_code == ExitCode.USAGE
    assert "--resume needs an SSE protocol" in ws.stderr
    offline = cli("check", "sse-delta-done", "fixtures/README.md", "--resume")
    assert offline.exit_code == ExitCode.USAGE
