"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PYTHON = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def test_the_readme_starts_with_the_two_commands() -> None:
    commands = re.findall(r"```console\n(.*?)\n```", README, re.DOTALL)[:2]
    assert commands[0].endswith(".venv/bin/streamctl serve")
    assert commands[1].endswith(".venv/bin/python scripts/test.py")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].replace(" && ", "\n") in ci.replace(" && ", "\n")


def test_the_python_api_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(PYTHON[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "{'type': 'message', 'data': 'hi', 'id': '', 'retry': None}" in out
    assert "goose.finish.missing MUST" in out


def test_the_pytest_plugin_example_passes(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(PYTHON[1])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
