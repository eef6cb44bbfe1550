"""``streamctl check`` on a live server: no reply, no pass, and credentials that are minted."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.protocols import names
from streamctl.errors import ExitCode
from tests.test_cli_live import auth

TOKEN_HINT = "pass --token JWT, or --jwt-secret SECRET to mint one"
MESSAGES = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios" / "conversation.json"


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, prog_name="streamctl")


def test_ws_events_without_a_token_fails_saying_what_to_pass(live_server: LiveServer) -> None:
    result = cli("check", "ws-events", live_server.base_url)
    assert result.exit_code == ExitCode.CHECK_FAILED
    why = f'ws-events: authentication refused ("Authentication required: no token"); {TOKEN_HINT}'
    assert f"  exchange      FAIL\n    MUST check.reply  {why}\n" in result.stdout
    assert "  history       not run: needs --token (or --jwt-secret)\n" in result.stdout
    report = json.loads(cli("check", "ws-events", live_server.base_url, "-f", "json").stdout)
    assert report["failed"] is True
    assert report["probes"][0]["findings"][0]["message"] == why
    junit = ET.fromstring(cli("check", "ws-events", live_server.base_url, "-f", "junit").stdout)
    failure = junit.find(".//testcase[@name='exchange']/failure")
    assert failure is not None
    assert why in (failure.get("message") or "")
    assert junit.find(".//testcase[@name='history']/skipped") is not None
    classic = cli("check", "ws-events", live_server.base_url, "--messages", str(MESSAGES))
    assert f"  FAIL: {why}" in classic.stdout
    report = json.loads(
        cli(
            "check", "ws-events", live_server.base_url, "--messages", str(MESSAGES), "-f", "json"
        ).stdout
    )
    assert report["targets"][0]["refused"] == why


def test_the_jwt_secret_mints_the_token(live_server: LiveServer) -> None:
    secret = live_server.config.jwt_secret
    assert cli("check", "ws-events", live_server.base_url, "--jwt-secret", secret).exit_code == 0
    result = CliRunner(env={"JWT_SECRET": secret}).invoke(
        app, ["check", "ws-events", live_server.base_url]
    )
    assert result.exit_code == 0, result.stdout


@pytest.mark.parametrize("protocol", names())
def test_an_error_before_any_reply_fails(live_server: LiveServer, protocol: str) -> None:
    url = live_server.base_url + "?scenario=error-at-start"
    result = cli("check", protocol, url, "--quick", *auth(live_server, protocol), "-f", "json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    (refused, *_) = json.loads(result.stdout)["probes"][0]["findings"]
    assert refused["rule"] == "check.reply"
    assert refused["message"].startswith(f"{protocol}: the server refused the exchange (")


def test_send_says_what_to_pass_when_authentication_is_refused(live_server: LiveServer) -> None:
    result = cli("send", "ws-events", live_server.base_url, "hi")
    assert result.exit_code == ExitCode.PROTOCOL_ERROR
    assert f"Authentication required: no token; {TOKEN_HINT}" in result.stderr
    result = cli("send", "goose", live_server.base_url, "hi", "--secret-key", "wrong")
    assert result.exit_code == ExitCode.HTTP_STATUS
    assert "HTTP 401 from POST " in result.stderr
    assert "/reply; pass --secret-key KEY" in result.stderr
    result = cli("send", "sse-delta-done", live_server.base_url + "?scenario=error-at-start", "hi")
    assert result.exit_code == ExitCode.PROTOCOL_ERROR
    assert "pass --" not in result.stderr


def test_chat_says_what_to_pass_when_authentication_is_refused(live_server: LiveServer) -> None:
    result = cli("chat", "ws-events", live_server.base_url, input="hi\n")
    assert result.exit_code == 0
    assert f"streamctl: Authentication required: no token; {TOKEN_HINT}" in result.stderr
    secret = live_server.config.jwt_secret
    result = cli("chat", "ws-events", live_server.base_url, "--jwt-secret", secret, input="hi\n")
    assert result.exit_code == 0
    assert "pass --token" not in result.stderr
