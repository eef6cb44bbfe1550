"""Running the server: ``streamctl serve``, the banner, watching scenario files, workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from mockserver import run
from mockserver.app import _watch
from mockserver.bundled import bundled_dir
from mockserver.config import ServerConfig
from mockserver.loops import LOOPS, LoopError, loop_name, new_loop
from mockserver.run import CONFIG_ENV, hypercorn_config, worker_app
from mockserver.startup import banner, bind, dump_config, load_config
from mockserver.state import ServerState
from streamctl.cli.serve import DEV_JWT_SECRET, Loop
from streamctl.core.protocols import REGISTRY
from streamctl.engine.clock import FakeClock
from streamctl.engine.scenarios import load_dirs
from tests.loops import SERVER_LOOPS

ROOT = Path(__file__).resolve().parent.parent


def cli() -> typer.Typer:
    from streamctl.cli.app import app

    return app


def test_the_banner_lists_every_protocols_urls_and_the_admin_api() -> None:
    text = banner(ServerConfig(host="0.0.0.0"), 8123, 6)
    for proto in REGISTRY.values():
        for endpoint in proto.endpoints:
            scheme = "ws" if endpoint.method == "WS" else "http"
            assert f"{scheme}://127.0.0.1:8123{endpoint.path}" in text
    assert "http://127.0.0.1:8123/_streamctl" in text
    assert "[::1]:9" in banner(ServerConfig(host="::"), 9, 0)


def test_the_dev_jwt_secret_default_matches_the_servers() -> None:
    assert ServerConfig().jwt_secret == DEV_JWT_SECRET


def test_a_config_travels_to_worker_processes_as_json(tmp_path: Path) -> None:
    config = ServerConfig(
        scenario_dirs=(tmp_path,),
        cors_origins=("https://a.example",),
        allowed_hosts=("mock",),
        admin_token="s3cret",
        speed=0.5,
        workers=2,
        loop="asyncio",
    )
    assert load_config(dump_config(config)) == config


def test_a_worker_builds_its_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned: list[bool] = []
    monkeypatch.setattr(run, "tune_runtime", lambda: tuned.append(True))
    (tmp_path / "mine.json").write_text(json.dumps({"reply": "from the parent"}))
    config = ServerConfig(scenario_dirs=(tmp_path,), bundled=False, watch=False)
    monkeypatch.setenv(CONFIG_ENV, dump_config(config))
    assert [s.name for s in worker_app().server.scenarios.scenarios] == ["mine"]
    monkeypatch.delenv(CONFIG_ENV)
    assert len(worker_app().server.scenarios) == len(load_dirs([bundled_dir()]))
    assert tuned == [True, True]


def test_auto_is_uvloop_where_it_is_installed_and_asyncios_own_loop_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert loop_name("asyncio") == "asyncio"
    if importlib.util.find_spec("uvloop") is not None:
        assert loop_name("auto") == loop_name("uvloop") == "uvloop"
        with contextlib.closing(new_loop("auto")) as loop:
            assert isinstance(loop, importlib.import_module("uvloop").Loop)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as on Windows
    assert loop_name("auto") == "asyncio"
    with contextlib.closing(new_loop("auto")) as plain:
        assert isinstance(plain, asyncio.BaseEventLoop)


def test_the_cli_offers_the_servers_loops() -> None:
    assert tuple(choice.value for choice in Loop) == LOOPS


def test_a_loop_that_cannot_be_had_stops_serve_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(LoopError, match="unknown event loop 'trio'"):
        loop_name("trio")
    monkeypatch.setitem(sys.modules, "uvloop", None)
    result = CliRunner().invoke(cli(), ["serve", "--port", "0", "--loop", "uvloop"])
    assert result.exit_code == 2
    assert "--loop: uvloop is not installed" in result.stderr
    assert "--loop asyncio" in result.stderr


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_worker_processes_run_on_hypercorns_loop_of_the_same_kind(loop: str) -> None:
    with contextlib.closing(bind("127.0.0.1", 0)) as sock:
        hyper = hypercorn_config(ServerConfig(loop=loop, workers=2), sock)
        os.close(int(hyper.bind[0].removeprefix("fd://")))
    assert hyper.worker_class == loop


def test_a_server_process_collects_garbage_in_short_pauses() -> None:
    before = gc.get_threshold()
    try:
        run.tune_runtime()
        assert gc.get_threshold() == run.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_broken_scenario_directory_stops_serve_before_it_starts(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{")
    result = CliRunner().invoke(cli(), ["serve", "--port", "0", "--scenarios", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.json: not valid JSON" in result.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(cli(), ["serve", "--port", port])
    finally:
        taken.close()
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_has_help_for_every_option() -> None:
    result = CliRunner().invoke(cli(), ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--scenarios",
        "--no-bundled",
        "--speed",
        "--goose-secret",
        "--jwt-secret",
        "--cors-origin",
        "--allow-host",
        "--admin-token",
        "--workers",
        "--loop",
        "--no-watch",
    ):
        assert option in result.stdout
    assert "GOOSE_SERVER__SECRET_KEY" in result.stdout
    assert "JWT_SECRET" in result.stdout
    assert "STREAMCTL_ADMIN_TOKEN" in result.stdout


def test_serve_takes_the_admin_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[ServerConfig] = []
    monkeypatch.setattr(
        run, "serve", lambda config, sock, app=None: (served.append(config), sock.close())
    )
    args = ["serve", "--port", "0", "--allow-host", "mock", "--allow-host", "mock.lan"]
    result = CliRunner().invoke(cli(), args, env={"STREAMCTL_ADMIN_TOKEN": "from-env"})
    assert result.exit_code == 0, result.output
    assert served[0].admin_token == "from-env"
    assert served[0].allowed_hosts == ("mock", "mock.lan")


def read_until(stream: int, marker: bytes, timeout: float = 20.0) -> bytes:
    """Read from a pipe until ``marker`` appears (bounded by ``timeout``)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {seen!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream, 65536)
            assert chunk, f"the process ended: {seen!r}"
            seen += chunk
    return seen


@pytest.mark.parametrize("loop", SERVER_LOOPS)
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_prints_its_urls_serves_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, workers: int, loop: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOOSE_SERVER__SECRET_KEY": "from-env"}
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--loop", loop]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        base = head.split("mock server on ")[1].split()[0]
        assert f"ws://{base.removeprefix('http://')}/chat/ws" in head
        assert f", {loop}; Ctrl-C to stop" in head
        status = httpx.get(f"{base}/status", timeout=10)
        assert status.json() == {"status": "ok"}
        refused = httpx.post(f"{base}/reply", json={}, headers={"X-Secret-Key": "test"})
        assert refused.status_code == 422  # the body is checked first (era B)
        goose = httpx.post(
            f"{base}/reply",
            json={"messages": [], "session_working_dir": "/"},
            headers={"X-Secret-Key": "test"},
        )
        assert goose.status_code == 401  # the secret came from GOOSE_SERVER__SECRET_KEY
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=20)
    assert process.returncode == 0
    assert b"Traceback" not in rest
    assert b"stopped" in rest


def test_changed_scenario_files_are_reloaded_and_broken_ones_skipped(tmp_path: Path) -> None:
    config = ServerConfig(bundled=False, scenario_dirs=(tmp_path,), watch=False)
    state = ServerState(config)
    assert not state.reload_if_changed()
    (tmp_path / "new.json").write_text(json.dumps({"reply": "new"}))
    assert state.reload_if_changed()
    assert [s.name for s in state.scenarios.scenarios] == ["new"]
    (tmp_path / "bad.json").write_text("{")
    assert not state.reload_if_changed()  # logged; the old set stays
    assert not state.reload_if_changed()  # reported once, not at every poll
    assert [s.name for s in state.scenarios.scenarios] == ["new"]


def test_the_watcher_polls_on_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    config = ServerConfig(
        bundled=False, scenario_dirs=(tmp_path,), clock=clock, watch_interval_s=2.0
    )
    state = ServerState(config)

    async def main() -> list[int]:
        task = asyncio.create_task(_watch(state))
        await asyncio.sleep(0)  # let it park on the clock
        counts = []
        await clock.advance(2.0)
        counts.append(len(state.scenarios))
        (tmp_path / "a.json").write_text(json.dumps({"reply": "a"}))
        await clock.advance(1.0)
        counts.append(len(state.scenarios))
        await clock.advance(1.0)
        counts.append(len(state.scenarios))
        task.cancel()
        return counts

    assert asyncio.run(main()) == [0, 0, 1]


def test_the_watcher_survives_an_error_while_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    state = ServerState(ServerConfig(bundled=False, scenario_dirs=(tmp_path,), clock=clock))
    calls = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk gone")
        return False

    monkeypatch.setattr(state, "reload_if_changed", flaky)

    async def main() -> None:
        task = asyncio.create_task(_watch(state))
        await asyncio.sleep(0)
        await clock.advance(1.0)
        await clock.advance(1.0)
        task.cancel()

    asyncio.run(main())
    assert len(calls) == 2


def test_a_watching_app_starts_and_stops_its_watcher(tmp_path: Path) -> None:
    from mockserver.testing import LiveServer

    config = ServerConfig(bundled=False, scenario_dirs=(tmp_path,), watch=True, clock=FakeClock())
    with LiveServer(config) as server:
        (tmp_path / "late.json").write_text(json.dumps({"reply": "late"}))
        server.advance(1.0)
        assert [s.name for s in server.server.scenarios.scenarios] == ["late"]


@pytest.mark.parametrize("loop", SERVER_LOOPS)
def test_clients_leaving_during_a_burst_do_not_flood_the_log(loop: str) -> None:
    # Each client reads the response head and closes before the reply's burst of writes: the
    # rest of the burst goes to a closed socket, which asyncio would report once per write.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--loop", loop]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        host, port = head.split("mock server on http://")[1].split()[0].split(":")
        for _ in range(5):
            with socket.create_connection((host, int(port))) as client:
                client.sendall(
                    b"GET /api/chat/stream?message=hello+there HTTP/1.1\r\nHost: localhost\r\n\r\n"
                )
                assert client.recv(65536).startswith(b"HTTP/1.1 200")
        journal = httpx.get(f"http://{host}:{port}/_streamctl/journal", timeout=10).json()
        assert len(journal["entries"]) == 5
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=20)
    assert process.returncode == 0
    assert b"socket.send() raised exception" not in rest
    assert b"Traceback" not in rest


def test_the_lost_write_filter_drops_only_that_warning() -> None:
    from mockserver.run import QuietLostWrites

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.WARNING, __file__, 1, message, None, None)

    quiet = QuietLostWrites()
    assert not quiet.filter(record("socket.send() raised exception."))
    assert quiet.filter(record("Task was destroyed but it is pending!"))
