"""Every console example in docs/faults.md and in the README's Faults section runs against the
real mock server and does what the docs say (curl lines are sent with httpx)."""

from __future__ import annotations

import contextlib
import itertools
import re
import shlex
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mockserver.testing import LiveServer
from streamctl.cli.app import app
from streamctl.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:8000"


def _lines(text: str) -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def examples() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Faults", 1)[1].split("\n## ", 1)[0]
    lines = _lines((ROOT / "docs" / "faults.md").read_text()) + _lines(section)
    return [line for line in lines if " serve" not in line]


def _curl(words: list[str], server: LiveServer) -> int:
    headers = [tuple(v.split(": ", 1)) for k, v in itertools.pairwise(words) if k == "-H"]
    url = words[-1].replace(DEFAULT_URL, server.base_url)
    with httpx.stream("GET", url, headers=headers, timeout=20) as response:
        with contextlib.suppress(httpx.RemoteProtocolError):  # a drop: the body breaks off
            response.read()
        return response.status_code


def test_there_are_examples() -> None:
    assert len(examples()) >= 15


@pytest.mark.parametrize("line", examples())
def test_each_example_does_what_the_docs_say(live_server: LiveServer, line: str) -> None:
    words = shlex.split(line.replace(".venv/bin/streamctl", "streamctl"))
    if words[0] == "curl":
        status = re.search(r"fault=http:(\d+)", line)
        assert _curl(words, live_server) == (int(status.group(1)) if status else 200)
        return
    args = [w.replace(DEFAULT_URL, live_server.base_url) for w in words[1:]]
    result = CliRunner().invoke(app, args, prog_name="streamctl")
    output = result.stdout + result.stderr
    if "drop:" in line:  # the client sees the connection go
        assert result.exit_code != 0, output
    else:
        expected = ExitCode.CHECK_FAILED if "malformed:" in line else 0
        assert result.exit_code == expected, output
