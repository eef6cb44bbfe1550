"""The commands that need no server: help, completion, protocols, spec, token, usage errors."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import streamctl
from streamctl.cli.app import app
from streamctl.core.jwt import verify
from streamctl.core.protocols import REGISTRY, names
from streamctl.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("send", "chat", "record", "check", "inspect", "protocols", "spec", "token", "serve")
HEAVY = ("httpx", "httpx_sse", "websockets", "quart", "hypercorn", "rich")


def cli(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env=env, prog_name="streamctl")


# --- help, completion, entry points -------------------------------------------------------


def test_version_prints_the_packages_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"streamctl {version}\n"
    assert streamctl.__version__ == version


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command


def test_no_arguments_shows_help_as_a_usage_error() -> None:
    result = cli()
    assert result.exit_code == ExitCode.USAGE
    assert "Usage: streamctl" in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Usage: streamctl" in result.stdout
    if command != "serve":  # another module's help text
        assert "Example" in result.stdout


def test_show_completion_prints_a_shell_script() -> None:
    result = cli("--show-completion", "bash")
    assert result.exit_code == 0
    assert "_STREAMCTL_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _streamctl_completion streamctl" in result.stdout


def test_completion_offers_protocol_names() -> None:
    env = {
        "_STREAMCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": "streamctl send ws",
        "COMP_CWORD": "2",
    }
    result = cli(env=env)
    assert result.stdout.split() == [n for n in names() if n.startswith("ws")]


def test_python_dash_m_streamctl_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streamctl", "protocols", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert [json.loads(line)["name"] for line in out.stdout.splitlines()] == names()


def test_the_app_imports_no_network_or_server_library() -> None:
    code = (
        "import sys, json, streamctl.cli.app\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(out.stdout))
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)
    assert "streamctl" in loaded


def test_the_package_api_is_lazy_and_complete() -> None:
    code = (
        "import sys, streamctl; print(sorted(m for m in sys.modules if m.startswith('streamctl')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "['streamctl']"
    for name in streamctl.__all__:
        assert getattr(streamctl, name) is not None
    assert dir(streamctl) == sorted(streamctl.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = streamctl.nope


def test_the_old_protocol_name_still_imports_with_a_deprecation_warning() -> None:
    with pytest.warns(
        DeprecationWarning, match=r"streamctl\.Protocol is deprecated; use streamctl\.ChatProtocol"
    ):
        old = streamctl.Protocol
    assert old is streamctl.ChatProtocol
    assert "Protocol" not in streamctl.__all__


def test_the_version_matches_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert streamctl.__version__ == project["version"]
    assert project["scripts"]["streamctl"] == "streamctl.cli.app:main"


# --- protocols, spec, token ---------------------------------------------------------------


def test_protocols_lists_every_protocol_with_its_endpoints() -> None:
    result = cli("protocols")
    assert result.exit_code == 0
    for proto in REGISTRY.values():
        assert proto.name in result.stdout
        for endpoint in proto.endpoints:
            assert f"{endpoint.method:<6} {endpoint.path}" in result.stdout


def test_protocols_as_json_lines() -> None:
    result = cli("protocols", "-f", "json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == names()
    streams = [e for r in rows for e in r["endpoints"] if e["stream"]]
    assert len(streams) == len(names())


def test_protocols_as_markdown() -> None:
    result = cli("protocols", "--format", "markdown")
    assert result.stdout.count("### `") == len(names())


@pytest.mark.parametrize("name", names())
def test_spec_prints_every_rule_with_level_and_source(name: str) -> None:
    from streamctl.core.probes import suite, suite_rules

    rules = suite_rules(REGISTRY[name])  # the spec's rules and the probes' own
    assert set(REGISTRY[name].spec.rules) <= set(rules)
    text = cli("spec", name)
    assert text.exit_code == 0
    for rule in rules:
        assert re.search(rf"^{re.escape(rule.id)}\s+{rule.level.value}\s", text.stdout, re.M)
        assert f"source: {rule.source}" in text.stdout
    probes = [p.name for p in suite(REGISTRY[name])]
    for probe in probes:
        assert re.search(rf"^  {re.escape(probe)}\s", text.stdout, re.M)
    rows = [json.loads(line) for line in cli("spec", name, "-f", "json").stdout.splitlines()]
    assert [row for row in rows if "id" in row] == [
        {"id": r.id, "level": r.level.value, "text": r.text, "source": r.source} for r in rules
    ]
    assert [row["probe"] for row in rows if "probe" in row] == probes
    markdown = cli("spec", name, "-f", "markdown").stdout.splitlines()
    assert markdown[0] == "| id | level | rule | source |"
    assert markdown[2 + len(rules)] == ""
    assert markdown[3 + len(rules)] == "| probe | kind | what it checks | its own rules |"
    assert len(markdown) == 5 + len(rules) + len(probes)


def test_token_mints_a_jwt_the_server_secret_verifies() -> None:
    result = cli("token", "--user", "alice", "--ttl", "60")
    assert result.exit_code == 0
    payload = verify(result.stdout.strip(), "streamctl-dev-secret", now=time.time())
    assert payload["userId"] == "alice"
    assert payload["exp"] - payload["iat"] == 60


def test_token_takes_its_secret_from_jwt_secret() -> None:
    token = cli("token", env={"JWT_SECRET": "s3"}).stdout.strip()
    assert verify(token, "s3", now=time.time())["userId"] == "dev-user"
    with pytest.raises(ValueError, match="signature"):
        verify(token, "streamctl-dev-secret", now=time.time())


# --- usage errors: one clear line, exit 2, no traceback -----------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["send", "nope", "http://x", "hi"],
            "unknown protocol 'nope'; known: " + ", ".join(names()),
        ),
        (["spec", "nope"], "unknown protocol 'nope'"),
        (["send", "goose", "ftp://x", "hi"], "not an http(s):// or ws(s):// URL: 'ftp://x'"),
        (["send", "goose", "http://x", "hi", "-H", "no colon"], "--header must look like"),
        (["send", "goose", "http://x", "hi", "--json", "--raw"], "--json and --raw cannot"),
        (["send", "goose", "http://x", "hi", "--timeout", "0"], "--timeout"),
        (["check", "goose", "x.jsonl", "--format", "xml"], "--format must be one of"),
        (["check", "goose", "/no/such/file"], "is neither a URL nor a transcript"),
        (["protocols", "--format", "yaml"], "--format must be one of"),
        (["inspect", "/no/such/capture"], "cannot read /no/such/capture"),
        (["record", "goose", "http://x", "hi"], "Missing option '--output'"),
        (["record", "goose", "http://x", "hi", "-o", "/no/such/dir/f.jsonl"], "cannot write"),
    ],
)
def test_invalid_arguments_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- the error guard ----------------------------------------------------------------------


def test_a_bug_is_one_line_and_exit_70_without_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("streamctl.cli.one_turn.stream_once", boom)
    result = cli("send", "goose", "http://127.0.0.1:9", "hi")
    assert result.exit_code == ExitCode.INTERNAL
    assert result.stderr == "streamctl: internal error: RuntimeError: kaboom (rerun with --debug)\n"
    debug = cli("send", "goose", "http://127.0.0.1:9", "hi", "--debug")
    assert isinstance(debug.exception, RuntimeError)


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("streamctl.cli.one_turn.stream_once", interrupt)
    result = cli("send", "goose", "http://127.0.0.1:9", "hi")
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stderr == "streamctl: interrupted\n"


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = [code.value for code in ExitCode]
    assert codes == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 70, 130]
    doc = (ROOT / "docs" / "cli.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} | `{code.name}` | {code.meaning} |" in doc


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("X-Name: café", "--header X-Name: the value must be printable ASCII"),
        ("Bad Name: x", "--header must look like 'Name: value'"),
        (": x", "--header must look like 'Name: value'"),
    ],
)
def test_headers_that_cannot_be_sent_are_usage_errors(header: str, message: str) -> None:
    result = cli("send", "sse-delta-done", "http://127.0.0.1:9", "hi", "-H", header)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_a_non_ascii_secret_is_a_usage_error_not_a_crash() -> None:
    result = cli("send", "goose", "http://127.0.0.1:9", "hi", "--secret-key", "clé")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("streamctl: error: a request header is not ASCII")


def test_resolving_an_unknown_protocol_lists_the_known_ones() -> None:
    from streamctl.cli.common import resolve_protocol
    from streamctl.errors import UsageError

    with pytest.raises(UsageError, match="known: goose"):
        resolve_protocol("nope")


def test_debug_adds_the_traceback_to_a_reported_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = cli("send", "sse-delta-done", url, "hi", "--debug")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("streamctl: server unreachable:")


def test_a_report_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    from streamctl.core.transcript import dump
    from tests.builders import sse_transcript

    path = tmp_path / "t.jsonl"
    path.write_text(dump(sse_transcript("goose", [b'data: {"type":"Ping"}\n\n'])))
    result = cli("check", "goose", str(path), "-o", str(tmp_path / "missing" / "r.txt"))
    assert result.exit_code == ExitCode.USAGE
    assert "cannot write" in result.stderr


def test_a_missing_messages_file_is_a_usage_error(tmp_path: Path) -> None:
    result = cli("check", "goose", "http://127.0.0.1:9", "--messages", str(tmp_path / "no.json"))
    assert result.exit_code == ExitCode.USAGE
    assert "cannot read messages" in result.stderr
