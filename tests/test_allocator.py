"""``streamctl serve`` runs on glibc's allocator, and the idle server gives a burst's memory back
(issue #16: within 10 % of idle after bursts of clients; streamctl/cli/allocator.py says why)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from streamctl.cli.allocator import ENV, restart_on_malloc, wants_malloc
from tests.test_server_run import read_until

ROOT = Path(__file__).resolve().parent.parent
ON_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None
glibc_only = pytest.mark.skipif(not ON_GLIBC, reason="the C allocator is chosen on glibc only")


@glibc_only
@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["serve"], True),
        (["serve", "--port", "0", "-q"], True),
        (["serve", "--help"], False),
        (["send", "goose", "http://x", "serve"], False),  # "serve" is only the message here
        (["check", "goose", "x"], False),
        ([], False),
        (["--version"], False),
    ],
)
def test_only_serve_restarts_on_malloc(
    monkeypatch: pytest.MonkeyPatch, args: list[str], wanted: bool
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert wants_malloc(args) is wanted


def test_an_allocator_the_user_names_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "pymalloc")
    assert not wants_malloc(["serve"])


def test_when_the_interpreter_cannot_start_again_serve_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(path: str, args: list[str]) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr("streamctl.cli.allocator.wants_malloc", lambda args: True)
    monkeypatch.setattr(os, "execv", refuse)
    restart_on_malloc(["serve"])
    assert ENV not in os.environ


def environment_of_a_running_server(extra: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment ``streamctl serve`` runs with, read from /proc once it answers."""
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
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest.decode()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(): v.decode() for k, _, v in pairs}


@glibc_only
def test_serve_runs_on_malloc_in_the_same_process(tmp_path: Path) -> None:
    assert environment_of_a_running_server({}, tmp_path).get(ENV) == "malloc"


@glibc_only
def test_serve_keeps_pymalloc_when_asked(tmp_path: Path) -> None:
    assert environment_of_a_running_server({ENV: "pymalloc"}, tmp_path).get(ENV) == "pymalloc"


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
