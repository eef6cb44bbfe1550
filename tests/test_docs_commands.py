"""The console commands of docs/recording.md, docs/load.md, docs/scenarios.md and the README's
"Recording real traffic", "Load testing" and "Contract tests in CI" sections run as printed
against a started mock server (README "Try it" and docs/playground.md: test_docs_examples.py;
docs/cli.md: test_cli_docs.py; docs/faults.md: test_faults_docs.py).

A command that cannot run here (it starts a long-lived server, needs a remote machine or a file
only a browser makes) is listed in NOT_RUN with the reason, so a new command is either run or
explicitly excused: the meta-test fails on any other.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mockserver.testing import LiveServer
from tests.test_docs_examples import ROOT, _section, check, examples, run

#: "Your backend" in docs/recording.md is at :3000; the started mock stands in for it.
BACKEND = "http://127.0.0.1:3000"

NOT_RUN = {
    "streamctl inspect session.har": "needs a HAR file a browser saved (test_browser_har.py)",
    "streamctl import session.har": "needs a HAR file a browser saved (test_browser_har.py)",
    "streamctl serve": "starts a long-lived server (the test's mock is already running)",
    "streamctl proxy": "starts a long-lived proxy (tests/test_proxy.py runs it)",
    "pip install": "installs from the network (test_packaging.py builds the package)",
    "locust -f": "needs the reader's own locustfile (test_load.py runs our users)",
    'streamctl load goose "https://chat.example.com"': "needs remote machines",
    "streamctl load goose https://chat.example.com": "needs remote machines",
    'streamctl load sse-delta-done "http://127.0.0.1:8000?scenario=slow" --users': (
        "20 s of hundreds of users on a shared test machine (test_load.py runs streamctl load)"
    ),
    # Replays what the proxy recorded (a scenario named login-test): needs the proxy run above.
    'curl -sN -X POST "http://127.0.0.1:8000/reply?scenario=login-test"': "needs the proxy",
}


def excused(command: str) -> str | None:
    """Why ``command`` is not run here, or None."""
    command = command.replace(".venv/bin/", "")
    return next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)


def runnable(text: str) -> list[tuple[str, list[str]]]:
    return [(c.replace(BACKEND, "http://127.0.0.1:8000"), out) for c, out in examples(text)]


SOURCES = {
    "docs/recording.md": (ROOT / "docs" / "recording.md").read_text(),
    "docs/load.md": (ROOT / "docs" / "load.md").read_text(),
    "docs/scenarios.md": (ROOT / "docs" / "scenarios.md").read_text(),
    "README.md#recording-real-traffic": _section(
        (ROOT / "README.md").read_text(), "Recording real traffic"
    ),
    "README.md#load-testing": _section((ROOT / "README.md").read_text(), "Load testing"),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_the_docs_commands_run_as_printed(
    source: str, live_server: LiveServer, tmp_path: Path
) -> None:
    docs = [(c, out) for c, out in runnable(SOURCES[source]) if excused(c) is None]
    assert check(docs, live_server, tmp_path) == len(docs)


def test_every_docs_command_is_run_or_excused() -> None:
    ran = dict.fromkeys(SOURCES, 0)
    for source, text in SOURCES.items():
        for command, _ in examples(text):
            if excused(command) is None:
                ran[source] += 1
    # A broken block parser would find none; load's commands all need minutes, machines or a
    # network (test_load.py runs streamctl load against the mock).
    assert ran == {
        "docs/recording.md": 5,
        "docs/load.md": 0,
        "docs/scenarios.md": 1,
        "README.md#recording-real-traffic": 1,
        "README.md#load-testing": 0,
    }
    assert all(
        any(excused(c) == why for text in SOURCES.values() for c, _ in examples(text))
        for why in set(NOT_RUN.values()) - {NOT_RUN["pip install"]}
    ), "an excuse no command needs any more"


def test_no_doc_installs_streamctl_from_an_index() -> None:
    # streamctl is not on PyPI: an install names this checkout ('.' or a path), never the name.
    texts = [(ROOT / "README.md").read_text(), *(p.read_text() for p in ROOT.glob("docs/*.md"))]
    installs = [m for t in texts for m in re.findall(r"pip install ([^\n`]*)", t)]
    assert installs
    for words in installs:
        for word in shlex.split(words):
            assert not word.startswith("streamctl"), words


def test_the_readme_ci_example_passes_against_a_conformant_server(
    live_server: LiveServer, tmp_path: Path
) -> None:
    section = _section((ROOT / "README.md").read_text(), "Contract tests in CI")
    (yaml,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (folded,) = re.findall(r"- run: >\n((?:    .*\n)+)", yaml)
    command = " ".join(line.strip() for line in folded.splitlines())
    assert command.startswith("streamctl check ws-events http://127.0.0.1:8000")
    secret = live_server.config.jwt_secret
    first = command.replace("--baseline", "--write-baseline")
    for step in (first, command):
        # The step's env: sets JWT_SECRET for the whole step.
        result = run(f"export JWT_SECRET={shlex.quote(secret)}; {step}", live_server, tmp_path)
        assert result.returncode == 0, step + result.stdout + result.stderr
    assert (tmp_path / "contract-baseline.json").exists()
    assert (tmp_path / "contract.xml").read_text().startswith("<?xml")
