"""``streamctl load`` for real: Locust in processes of its own against the mock server and
deliberately broken servers.

Runs end by count (``--conversations``), never by time, so every total is exact on a slow
machine. Locust (and gevent's monkey-patching) only ever runs in subprocesses: this process
drives the command, which starts them.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.jwt import mint_dev_token
from streamctl.core.script import default_reply
from tests.broken_servers import BrokenServer, Handler, http_stream
from tests.test_net_http import DELTA, DONE, closed_port_url

JSON = (("content-type", "application/json"),)
NAMES = ("first token", "stream", "token gap", "tokens/s", "check")


def load(*args: str) -> Result:
    return CliRunner().invoke(app, ["load", *args], prog_name="streamctl")


def summary(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def entries(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in data["entries"]}


def journal(server: LiveServer, protocol: str) -> list[dict[str, Any]]:
    response = httpx.get(server.url("/_streamctl/journal"), params={"protocol": protocol})
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_two_local_worker_processes_add_up(live_server: LiveServer, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    result = load(
        "sse-delta-done", live_server.base_url, "--users", "4", "--spawn-rate", "100",
        "--conversations", "3", "--run-time", "120s", "--processes", "2", "--check-rate", "1",
        "-m", "hello there",
        "--json", str(out), "--csv", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = summary(out)
    rows = entries(data)
    tokens = len(default_reply("hello there").tokens)
    # 4 users x 3 conversations x 1 turn, every one of them seen by the server too.
    assert data["users"] == 4
    assert rows["stream"]["requests"] == 12
    assert len(journal(live_server, "sse-delta-done")) == 12
    assert rows["first token"]["requests"] == 12
    assert rows["token gap"]["requests"] == 12 * (tokens - 1)
    assert rows["tokens/s"]["requests"] == 12
    assert rows["tokens/s"]["avg_size"] == tokens
    assert rows["check"]["requests"] == 12
    assert sum(r["failures"] for r in rows.values()) == 0
    assert data["failures"] == []
    # Sane figures: every turn took time, the first token came within it, sizes add up.
    stream, first = rows["stream"], rows["first token"]
    assert 0 < first["min"] <= first["p50"] <= first["p90"] <= first["p99"]
    assert first["max"] <= stream["max"]
    assert stream["total_size"] == 12 * stream["avg_size"] > 0
    assert rows["token gap"]["min"] >= 0
    # The same figures reached Locust's own CSV, and the table on stdout.
    csv = (tmp_path / "run_stats.csv").read_text()
    assert '"sse-delta-done","token gap",' in csv or "sse-delta-done,token gap," in csv
    assert "12 turns, 0 failed; 12 checked, 0 nonconformant" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _counts(data: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {name: (e["requests"], e["failures"]) for name, e in entries(data).items()}


def test_a_master_and_two_workers_give_the_same_totals_as_one_process(
    live_server: LiveServer, tmp_path: Path
) -> None:
    token = mint_dev_token(live_server.config.jwt_secret)
    args = [
        "ws-events", f"{live_server.base_url}?scenario=conversation", "--users", "3",
        "--spawn-rate", "100", "--conversations", "2", "--run-time", "120s", "-m", "one",
        "-m", "two",
        "--check-rate", "0.5",
    ]  # fmt: skip
    one, three = tmp_path / "one.json", tmp_path / "three.json"
    assert load(*args, "--token", token, "--json", str(one)).exit_code == 0
    # As across machines: three commands, the token given to the master only.
    port = str(_free_port())
    command = [sys.executable, "-m", "streamctl", "load", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMCTL_")}
    master = subprocess.Popen(
        [*command, "--token", token, "--json", str(three), "--master", "--expect-workers", "2",
         "--master-bind-port", port],
        stdout=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    workers = [
        subprocess.Popen([*command, "--worker", "--master-port", port], env=env) for _ in range(2)
    ]
    try:
        assert master.wait(120) == 0
        assert [worker.wait(60) for worker in workers] == [0, 0]
    finally:
        for process in (master, *workers):
            process.kill()
    expected = _counts(summary(one))
    # 3 users x 2 conversations x 2 turns; one conversation in two recorded and checked.
    assert expected["stream"] == (12, 0)
    assert expected["first token"] == (12, 0)
    assert expected["check"] == (3, 0)
    assert _counts(summary(three)) == expected
    # Both runs opened one connection per conversation.
    assert len(journal(live_server, "ws-events")) == 2 * 6


def _one_after_another(handlers: list[Handler]) -> Handler:
    """A handler that answers the n-th request with ``handlers[n]`` (the last one repeats)."""
    served = itertools.count()

    async def handle(reader: Any, writer: Any) -> None:
        await handlers[min(next(served), len(handlers) - 1)](reader, writer)

    return handle


def test_a_broken_server_gives_failures_by_type(tmp_path: Path) -> None:
    error = b'event: message\r\ndata: {"error": "backend down"}\r\n\r\n'
    server = BrokenServer()
    holder = [server]
    server.handler = _one_after_another([
        http_stream([b'{"detail": "busy"}'], status=503, headers=JSON),
        http_stream([b'{"reply": "hi"}'], headers=JSON),
        http_stream([DELTA], end="drop"),
        http_stream([DELTA]),
        http_stream([b"event: message\r\ndata: not json\r\n\r\n", DELTA, DONE]),
        http_stream([DELTA, error, DONE]),
        http_stream([DELTA], end="hang", server=holder),
        http_stream([DELTA, DELTA, DONE]),
    ])  # fmt: skip
    out = tmp_path / "summary.json"
    with server:
        result = load(
            "sse-delta-done", server.url, "--users", "1", "--conversations", "8",
            "--check-rate", "1", "--stall", "1", "--json", str(out),
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "load failed: 7 of 8 turns failed" in result.output
    data = summary(out)
    failures = {(f["name"], f["error"]): f["count"] for f in data["failures"]}
    stream = {error: count for (name, error), count in failures.items() if name == "stream"}
    assert stream == {
        "Refused('HTTP 503')": 1,
        "Refused('Content-Type application/json')": 1,
        "Truncated('the connection dropped before the end of the stream')": 1,
        'Truncated("the stream ended before the protocol\'s terminator")': 1,
        "Malformed('sse-delta-done.json')": 1,
        'ErrorEvent("the server sent the protocol\'s error event")': 1,
        "Stalled('no byte for 1 s')": 1,
    }
    rows = entries(data)
    assert rows["stream"]["requests"] == 8
    # The checker saw the same streams: every broken one breaks a MUST rule.
    assert rows["check"]["requests"] == 8
    assert rows["check"]["failures"] >= 6
    assert "failures by type:" in result.stdout


def test_an_unreachable_server_fails_every_turn_as_unreachable(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    result = load("goose", closed_port_url(), "-u", "2", "--conversations", "2", "--json", str(out))
    assert result.exit_code == 1
    failures = summary(out)["failures"]
    assert [(f["name"], f["error"], f["count"]) for f in failures] == [
        ("stream", "Unreachable('cannot connect')", 4)
    ]


def test_a_users_own_locustfile_runs_our_users(live_server: LiveServer, tmp_path: Path) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(
        "from streamctl.locust import ChunkCompleteUser\n\n\n"
        "class Chat(ChunkCompleteUser):\n"
        "    messages = ['first', 'second']\n"
        "    check_rate = 1.0\n"
    )
    out = tmp_path / "summary.json"
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host",
        live_server.base_url, "-u", "2", "-r", "100", "--conversations", "1",
        "--summary-file", str(out), "--csv", str(tmp_path / "run"), "--skip-log-setup",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    counts = _counts(summary(out))
    assert counts["stream"] == (4, 0)
    assert counts["check"] == (2, 0)
    # Every custom row is in Locust's own CSV (what its web UI shows too).
    rows = (tmp_path / "run_stats.csv").read_text().splitlines()
    assert {r.split(",")[1].strip('"') for r in rows[1:-1]} == set(NAMES)


def test_a_run_in_which_no_turn_completes_fails() -> None:
    server = BrokenServer()
    server.handler = http_stream([DELTA], end="hang", server=[server])
    with server:
        result = load("sse-delta-done", server.url, "-u", "1", "--run-time", "2s")
    assert result.exit_code == 1
    assert "no turn completed" in result.output
