"""``streamctl inspect``: what an EventSource dispatches, from a capture or a transcript."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from streamctl.cli.app import app
from streamctl.core.transcript import dump
from streamctl.errors import ExitCode
from tests.builders import sse_transcript, ws_transcript

ROOT = Path(__file__).resolve().parent.parent


def inspect(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(app, ["inspect", *args], input=input, prog_name="streamctl")


def events(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def ev(
    data: str, type: str = "message", id: str = "", retry: int | None = None
) -> dict[str, object]:
    return {"type": type, "data": data, "id": id, "retry": retry}


# The examples of WHATWG HTML §9.2.6, and the corner cases around them.
CAPTURES = [
    (b"data: YHOO\ndata: +2\ndata: 10\n\n", [ev("YHOO\n+2\n10")]),
    (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n",
        [ev("first event", id="1"), ev("second event"), ev(" third event")],
    ),
    (b"data\n\ndata\ndata\n\n", [ev(""), ev("\n")]),
    (b"data:test\n\ndata: test\n\n", [ev("test"), ev("test")]),
    (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n",
        [
            ev("73857293", type="add"),
            ev("2153", type="remove"),
        ],
    ),
    (
        b"retry: 1000\ndata: x\r\n\r\ndata: y\r\rdata: z\r\n\n",
        [ev("x", retry=1000), ev("y"), ev("z")],
    ),
    (b"\xef\xbb\xbfdata: bom\n\n", [ev("bom")]),
]


@pytest.mark.parametrize(("capture", "expected"), CAPTURES)
def test_a_capture_on_stdin_prints_what_eventsource_dispatches(
    capture: bytes, expected: list[dict[str, object]]
) -> None:
    result = inspect(input=capture)
    assert result.exit_code == 0
    assert events(result) == expected
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("capture", "problem"),
    [
        (b"data: first\n\ndata: cut", "line 3: incomplete-event:"),
        (b"retry: soon\ndata: x\n\n", "line 1: retry-not-digits:"),
        (b"id: a\x00b\ndata: x\n\n", "line 1: id-contains-nul:"),
        (b"colour: red\ndata: x\n\n", "line 1: unknown-field:"),
        (b"event: lonely\n\n", "line 1: event-without-data:"),
        (b"data: \xff\n\n", "line 1: invalid-utf8:"),
    ],
)
def test_framing_problems_go_to_stderr(capture: bytes, problem: str) -> None:
    result = inspect(input=capture)
    assert result.exit_code == 0
    assert result.stderr.startswith(problem)
    assert "{" not in result.stderr


def test_a_capture_file(tmp_path: Path) -> None:
    path = tmp_path / "capture.sse"
    path.write_bytes(CAPTURES[0][0])
    assert events(inspect(str(path))) == CAPTURES[0][1]


def test_an_sse_transcript_is_recognised_and_decoded(tmp_path: Path) -> None:
    transcript = sse_transcript(
        "sse-delta-done", [b"data: a\r\n", b"\r\ndata: b\r\n\r\n", b"data: c"]
    )
    path = tmp_path / "t.jsonl"
    path.write_text(dump(transcript))
    result = inspect(str(path))
    assert events(result) == [ev("a"), ev("b")]
    assert "incomplete-event" in result.stderr
    assert events(inspect(input=dump(transcript).encode())) == [ev("a"), ev("b")]


def test_a_transcript_that_is_not_an_event_stream_gets_a_note(tmp_path: Path) -> None:
    transcript = sse_transcript(
        "message-stream", [b"data: a\n\n"], headers=(("content-type", "application/x-ndjson"),)
    )
    result = inspect(input=dump(transcript).encode())
    assert events(result) == [ev("a")]
    assert "the response is application/x-ndjson" in result.stderr


def test_a_websocket_transcript_lists_its_messages() -> None:
    transcript = ws_transcript(
        "chunk-complete", [("client", '{"message":"hi"}'), ("server", b"\x01")]
    )
    result = inspect(input=dump(transcript).encode())
    assert events(result) == [
        {"t": 0.0, "from": "client", "data": '{"message":"hi"}'},
        {"t": 1.0, "from": "server", "data": "\x01"},
    ]


def test_a_broken_transcript_is_a_usage_error() -> None:
    text = dump(sse_transcript("goose", [b"data: x\n\n"])) + "not json\n"
    result = inspect(input=text.encode())
    assert result.exit_code == ExitCode.USAGE
    assert "cannot read -: not a valid transcript: line 4: not JSON" in result.stderr


def test_events_are_printed_while_the_pipe_is_still_open() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamctl", "inspect"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"data: first\n\n")
    proc.stdin.flush()
    # Blocks until inspect printed the event: the pipe is still open, so it came live.
    assert json.loads(proc.stdout.readline()) == ev("first")
    proc.stdin.write(b"data: second\n\n")
    proc.stdin.close()
    assert json.loads(proc.stdout.readline()) == ev("second")
    assert proc.wait(timeout=30) == 0
    proc.stdout.close()


def test_empty_input_prints_nothing() -> None:
    result = inspect(input=b"")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_a_stream_without_read1_is_read_in_chunks() -> None:
    from streamctl.cli.inspect import _reader

    class Plain:
        def __init__(self) -> None:
            self.parts = [b"data: a\n\n", b""]

        def read(self, size: int) -> bytes:
            return self.parts.pop(0)

    read = _reader(Plain())  # type: ignore[arg-type]
    assert (read(), read()) == (b"data: a\n\n", b"")


def test_a_reader_that_goes_away_ends_inspect_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamctl", "inspect"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdin.write(b"data: first\n\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == ev("first")
    proc.stdout.close()  # like `| head -1` exiting
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.write(b"data: more\n\n" * 100_000)
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()
