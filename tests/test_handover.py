"""``streamctl serve`` hands its socket to a lean interpreter on glibc's allocator
(streamctl/cli/handover.py): the serving process carries no command-line stack, its
configuration (with the secrets) is not on its command line, and the idle server gives a burst's
memory back (issue #16: within 10 % of idle after bursts of clients)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver import run, serving
from mockserver.config import ServerConfig
from mockserver.serving import main as serving_main
from mockserver.startup import CONFIG_ENV, FD_VAR
from streamctl.cli import handover
from streamctl.cli.handover import ENV, hand_over, wants_malloc
from tests.test_server_run import read_until

ROOT = Path(__file__).resolve().parent.parent
ON_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None
glibc_only = pytest.mark.skipif(not ON_GLIBC, reason="the C allocator is chosen on glibc only")


@glibc_only
def test_the_serving_interpreter_runs_on_malloc_unless_an_allocator_is_named() -> None:
    assert wants_malloc({})
    assert not wants_malloc({ENV: "pymalloc"})
    assert not wants_malloc({ENV: "malloc_debug"})


def test_only_the_console_entry_point_lets_serve_replace_its_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def replaced(path: str, args: list[str], env: dict[str, str]) -> None:
        raise AssertionError("a test process must not be replaced")

    monkeypatch.setattr(os, "execve", replaced)
    monkeypatch.setattr(handover, "_allowed", False)
    with socket_pair() as sock:
        hand_over("{}", sock, "banner")  # returns: serve_command then serves in this process


def test_when_the_interpreter_cannot_start_again_serve_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[list[str]] = []

    def refuse(path: str, args: list[str], env: dict[str, str]) -> None:
        tried.append(args)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "execve", refuse)
    monkeypatch.setattr(handover, "_allowed", True)
    with socket_pair() as sock:
        hand_over("{}", sock, "banner")
    assert tried
    assert tried[0][1:3] == ["-m", "mockserver.serving"]
    assert CONFIG_ENV not in os.environ


def test_the_serving_module_alone_says_who_starts_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(FD_VAR, raising=False)
    assert serving_main() == 2
    assert "started by `streamctl serve`" in capsys.readouterr().err


def test_the_banner_is_printed_once_the_app_is_made(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client that waits for the banner is served at once, not after the start-up."""
    seen: list[str] = []

    def make(config: ServerConfig) -> str:
        seen.append(f"app made, printed: {capsys.readouterr().err!r}")
        return "the app"

    def serve(config: ServerConfig, *, sock: socket.socket, app: str | None) -> None:
        seen.append(f"{app} served, printed: {capsys.readouterr().err!r}")

    monkeypatch.setattr(serving, "create_app", make)
    monkeypatch.setattr(run, "serve", serve)
    monkeypatch.setattr(serving, "log_to_stderr", lambda logger: None)
    with socket_pair() as sock:
        serving.serve_until_stopped(ServerConfig(), sock, "the banner")
    assert seen == ["app made, printed: ''", "the app served, printed: 'the banner\\n'"]
    assert capsys.readouterr().err == f"{serving.STOPPED}\n"


def test_the_serving_process_imports_no_command_line_stack() -> None:
    code = (
        "import sys, mockserver.serving, mockserver.run\n"
        "from mockserver.app import create_app\n"
        "create_app()\n"
        "loaded = {'typer', 'pydantic', 'streamctl.cli'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


def test_the_command_line_checks_its_options_without_the_server_stack() -> None:
    """What ``serve`` imports before it hands over: the server stack would be imported twice."""
    code = (
        "import sys, streamctl.cli.serve, streamctl.cli.handover\n"
        "from mockserver.config import ServerConfig\n"
        "from mockserver.engines import engine_name\n"
        "from mockserver.loops import loop_name\n"
        "from mockserver.startup import banner, bind, dump_config\n"
        "loaded = {'quart', 'hypercorn', 'mockserver.app'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


@contextlib.contextmanager
def socket_pair() -> Iterator[socket.socket]:
    """A bound loopback socket, closed at the end of the block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


def running_server(extra: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """The environment and command line ``streamctl serve`` runs with, read from /proc once it
    answers."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env.update(PYTHONPATH=str(ROOT), **extra)
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--no-watch", "-q"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        base = head.split("mock server on ")[1].split()[0]
        assert httpx.get(f"{base}/_streamctl/health", timeout=60).status_code == 200
        raw = Path(f"/proc/{process.pid}/environ").read_bytes()
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest.decode()
    assert rest.decode().endswith("streamctl mock server stopped\n")
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(): v.decode() for k, _, v in pairs}, argv


@glibc_only
def test_serve_runs_on_malloc_in_the_same_process(tmp_path: Path) -> None:
    assert running_server({}, tmp_path)[0].get(ENV) == "malloc"


@glibc_only
def test_serve_keeps_pymalloc_when_asked(tmp_path: Path) -> None:
    assert running_server({ENV: "pymalloc"}, tmp_path)[0].get(ENV) == "pymalloc"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_server_runs_lean_and_its_secrets_are_not_on_its_command_line(
    tmp_path: Path,
) -> None:
    secret = "s3cret-from-the-environment"
    env, argv = running_server({"GOOSE_SERVER__SECRET_KEY": secret}, tmp_path)
    assert argv[1:3] == ["-m", "mockserver.serving"]  # the same process, handed over
    assert argv[4:6] == ["streamctl", "serve"]  # the user's words, for ps
    assert not any(secret in arg for arg in argv)
    assert secret in env[CONFIG_ENV]  # where only the same user can read it


@glibc_only
def test_after_three_bursts_the_idle_server_is_back_within_ten_percent() -> None:
    """Three bursts of 500 clients that drop at random (5 % flooding or trickling), each followed
    by the idle trim: the soak script's verdict. On pymalloc this was +15 to +18 %; on malloc
    +4 %. (The issue's full run, 3 x 2,000 clients: ``python scripts/soak_server.py``.)"""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    command = [sys.executable, str(ROOT / "scripts" / "soak_server.py")]
    command += ["--clients", "500", "--seconds", "3", "--rounds", "3"]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=280
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("PASS")
