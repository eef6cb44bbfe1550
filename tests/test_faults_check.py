"""Every malformed-frame fault, on every protocol, is caught by ``streamctl check`` with the
rule a person would look for (a live server asked for the fault with ``?fault=``)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mockserver.config import DEFAULT_JWT_SECRET
from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.jwt import mint_dev_token
from streamctl.errors import ExitCode

#: (protocol, fault) -> the rule ``streamctl check`` must report.
EXPECTED = {
    ("sse-delta-done", "malformed:json"): "sse-delta-done.json",
    # The only required field of a delta decides its type: without it the type is unknown.
    ("sse-delta-done", "malformed:missing-field"): "sse-delta-done.type.unknown",
    ("sse-delta-done", "malformed:unknown-type"): "sse-delta-done.type.unknown",
    ("sse-delta-done", "malformed:no-terminator"): "sse-delta-done.done.missing",
    ("sse-delta-done", "malformed:double-terminator"): "sse-delta-done.done.not-last",
    ("sse-delta-done", "malformed:after-terminator"): "sse-delta-done.done.not-last",
    ("goose", "malformed:json"): "goose.json",
    ("goose", "malformed:missing-field"): "goose.schema.Message",
    ("goose", "malformed:unknown-type"): "goose.type.unknown",
    ("goose", "malformed:no-terminator"): "goose.finish.missing",
    ("goose", "malformed:double-terminator"): "goose.finish.last",
    ("goose", "malformed:after-terminator"): "goose.finish.last",
    ("message-stream", "malformed:json"): "message-stream.json",
    ("message-stream", "malformed:missing-field"): "message-stream.schema.message_delta",
    ("message-stream", "malformed:unknown-type"): "message-stream.type.unknown",
    ("message-stream", "malformed:no-terminator"): "message-stream.terminal.missing",
    ("message-stream", "malformed:double-terminator"): "message-stream.terminal.not-last",
    ("message-stream", "malformed:after-terminator"): "message-stream.terminal.not-last",
    ("chunk-complete", "malformed:json"): "chunk-complete.json",
    ("chunk-complete", "malformed:missing-field"): "chunk-complete.schema.chunk",
    ("chunk-complete", "malformed:unknown-type"): "chunk-complete.type.unknown",
    ("chunk-complete", "malformed:no-terminator"): "chunk-complete.complete.missing",
    ("chunk-complete", "malformed:double-terminator"): "chunk-complete.order",
    ("chunk-complete", "malformed:after-terminator"): "chunk-complete.reply.unsolicited",
    ("ws-events", "malformed:json"): "ws-events.json",
    ("ws-events", "malformed:missing-field"): "ws-events.schema.assistant_message_token",
    ("ws-events", "malformed:unknown-type"): "ws-events.type.unknown",
    ("ws-events", "malformed:no-terminator"): "ws-events.incomplete",
    ("ws-events", "malformed:double-terminator"): "ws-events.order",
    ("ws-events", "malformed:after-terminator"): "ws-events.order",
}


def _credentials(protocol: str) -> list[str]:
    if protocol == "goose":
        return ["--secret-key", "test"]
    if protocol == "ws-events":
        return ["--token", mint_dev_token(DEFAULT_JWT_SECRET)]
    return []


def _rules(live_server: LiveServer, protocol: str, query: str) -> tuple[int, set[str]]:
    url = f"{live_server.base_url}?{query}"
    args = ["check", protocol, url, "--quick", "-f", "json", "--linger", "0.3"]
    args += _credentials(protocol)
    result = CliRunner().invoke(app, args, prog_name="streamctl")
    report = json.loads(result.stdout)
    return result.exit_code, {f["rule"] for p in report["probes"] for f in p["findings"]}


@pytest.mark.parametrize(("protocol", "fault"), sorted(EXPECTED))
def test_each_malformed_fault_is_caught_with_its_rule(
    live_server: LiveServer, protocol: str, fault: str
) -> None:
    code, rules = _rules(live_server, protocol, f"fault={fault}")
    assert code == ExitCode.CHECK_FAILED
    assert EXPECTED[protocol, fault] in rules


@pytest.mark.parametrize("protocol", sorted({p for p, _ in EXPECTED}))
def test_without_a_fault_the_same_check_passes(live_server: LiveServer, protocol: str) -> None:
    assert _rules(live_server, protocol, "x=1") == (0, set())
