"""Every example in docs/cli.md runs, against the real mock server, and exits 0."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.core.jwt import mint_dev_token

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
DEFAULT_URL = "http://127.0.0.1:8000"
NOT_RUN = ("--install-completion",)  # it would edit the shell's start-up files


def examples() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_docs_have_an_example_for_every_command() -> None:
    commands = {shlex.split(line.split("|")[-1])[1] for line in examples()}
    assert commands >= {"send", "chat", "record", "check", "inspect", "protocols", "spec", "token"}


def run(line: str, server: LiveServer, workdir: Path) -> tuple[int, str]:
    line = line.replace(DEFAULT_URL, server.base_url)
    line = line.replace('"$(streamctl token)"', mint_dev_token(server.config.jwt_secret))
    stdin: bytes | None = b"/quit\n" if " chat " in line else None
    if "|" in line:
        source, line = (part.strip() for part in line.split("|", 1))
        words = shlex.split(source)
        if words[0] == "printf":
            stdin = words[1].encode().decode("unicode_escape").encode()
        else:
            assert words[0] == "curl"
            stdin = httpx.get(words[-1]).content
    redirect = None
    if " > " in line:
        line, redirect = (part.strip() for part in line.split(" > "))
    args = shlex.split(line)[1:]
    result = CliRunner().invoke(app, args, input=stdin, prog_name="streamctl")
    if redirect is not None:
        (workdir / redirect).write_bytes(result.stdout_bytes)
    return result.exit_code, result.stdout + result.stderr


def test_every_example_runs(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conversation.json").write_text(json.dumps(["Hello", "And then?"]))
    (tmp_path / "capture.sse").write_bytes(b"data: hi\n\n")
    ran = 0
    for line in examples():
        if any(skip in line for skip in NOT_RUN):
            continue
        if "recordings/" in line:
            (tmp_path / "recordings").mkdir(exist_ok=True)
            shutil.copy(tmp_path / "ws.jsonl", tmp_path / "recordings" / "ws.jsonl")
        code, output = run(line, live_server, tmp_path)
        assert code == 0, f"{line}\n{output}"
        ran += 1
    assert ran == len(examples()) - 1
