"""The README's "Try it" commands and docs/playground.md's run as printed, in a shell, against a
real server, and print what the docs show (docs/cli.md and docs/faults.md have tests of their
own: test_cli_docs.py, test_faults_docs.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.testing import LiveServer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:8000"


def examples(text: str) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the console blocks with the output lines the docs show after it."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def shown(line: str) -> re.Pattern[str]:
    """A line as the docs show it: numbers (timings) and ``…`` stand for whatever was measured."""
    parts = re.split(r"(\d+(?:\.\d+)?|…)", line)
    wild = {True: ".*", False: r"[\d.]+"}
    regex = "".join(
        re.escape(part) if i % 2 == 0 else wild[part == "…"] for i, part in enumerate(parts)
    )
    return re.compile(regex)


def run(command: str, server: LiveServer, workdir: Path) -> subprocess.CompletedProcess[str]:
    command = command.replace(DEFAULT_URL, server.base_url)
    bin_dir = workdir / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    launcher = bin_dir / "streamctl"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m streamctl "$@"\n')
    launcher.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-c", command],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def check(docs: list[tuple[str, list[str]]], server: LiveServer, workdir: Path) -> int:
    for command, expected in docs:
        result = run(command, server, workdir)
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
        output = (result.stdout + result.stderr).splitlines()
        for line in expected:
            assert any(shown(line).fullmatch(out) for out in output), (command, line, output)
    return len(docs)


def test_the_readme_try_it_commands_print_what_the_readme_shows(
    live_server: LiveServer, tmp_path: Path
) -> None:
    docs = examples(_section((ROOT / "README.md").read_text(), "Try it"))
    assert len(docs) == 3
    assert docs[0][1]  # the send example shows its reply and summary
    assert check(docs, live_server, tmp_path) == 3


def test_the_playground_docs_commands_run(live_server: LiveServer, tmp_path: Path) -> None:
    docs = examples((ROOT / "docs" / "playground.md").read_text())
    assert len(docs) >= 4
    assert check(docs, live_server, tmp_path) == len(docs)


@pytest.mark.parametrize("line", ["ttft 2 ms | 20 tokens | … tokens/s | ended: complete (x)"])
def test_a_shown_line_stands_for_any_measured_numbers(line: str) -> None:
    assert shown(line).fullmatch("ttft 41 ms | 19 tokens | 512.3 tokens/s | ended: complete (x)")
    assert not shown(line).fullmatch("ttft 41 ms | 19 tokens | 512.3 tokens/s | ended: cut (x)")


def test_the_fixtures_readme_scenario_example_is_a_scenario() -> None:
    from streamctl.engine.scenarios import parse_scenario

    section = _section((ROOT / "fixtures" / "README.md").read_text(), "Scenario files")
    (block,) = re.findall(r"```json\n(.*?)```", section, re.S)
    scenario = parse_scenario(block, "fixtures/README.md", None)
    assert scenario.name == "conversation"
    assert "This section will" not in section
