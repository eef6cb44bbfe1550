"""``check`` passes conformant servers it did not write: FastAPI + sse-starlette on uvicorn, and
a ``websockets``-library ws-events server with its own HS256 JWT check (tests/conformant_servers.py,
written from docs/protocols/ alone). Every probe of the full suite, ``--strict`` included."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from streamctl.cli.app import app
from tests.conformant_servers import GOOSE_KEY, JWT_SECRET, ThirdParty, create_app, ws_events


def check(protocol: str, url: str, *more: str) -> Result:
    args = ["check", protocol, url, "--strict", "-f", "json", "--idle-timeout", "3", *more]
    return CliRunner().invoke(app, args, prog_name="streamctl")


def verdicts(result: Result) -> dict[str, str]:
    report = json.loads(result.stdout)
    return {p["probe"]: p["status"] for p in report["probes"]}


@pytest.mark.parametrize(
    "protocol", ["goose", "sse-delta-done", "message-stream", "chunk-complete"]
)
def test_fastapi_servers_pass_the_whole_suite(protocol: str) -> None:
    with ThirdParty(create_app()) as server:
        result = check(protocol, server.url, "--secret-key", GOOSE_KEY)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert set(verdicts(result).values()) <= {"pass", "not run"}


def test_a_websockets_ws_events_server_passes_the_whole_suite() -> None:
    with ThirdParty(ws=ws_events()) as server:
        result = check("ws-events", server.url, "--jwt-secret", JWT_SECRET)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert set(verdicts(result).values()) == {"pass"}


def test_a_goose_server_pinging_through_a_long_reply_passes_the_heartbeat_probe() -> None:
    # ~1.75 s of tokens with a Ping every 0.5 s: the probe sees the whole heartbeat.
    with ThirdParty(create_app(word_delay=0.35)) as server:
        result = check("goose", server.url, "--secret-key", GOOSE_KEY, "--probe", "heartbeat")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert verdicts(result) == {"heartbeat": "pass"}


def test_sse_starlette_pings_after_done_are_accepted() -> None:
    # sse-starlette keeps sending ": ping" comments while its generator lingers after done.
    with ThirdParty(create_app(ping_after_done=True)) as server:
        result = check("sse-delta-done", server.url)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert set(verdicts(result).values()) == {"pass"}
