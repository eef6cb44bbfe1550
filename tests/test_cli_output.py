"""Terminal output: server text can never drive the terminal; pipes get the bytes as sent."""

from __future__ import annotations

import io
import json

import pytest

from streamctl.cli.output import Console, escape, json_line
from streamctl.cli.views import Stats
from streamctl.core.protocols.exchange import Update
from streamctl.errors import ConnectionLost, ProtocolErrorEvent
from streamctl.net.base import Result, WireEvent

HOSTILE = "ok\x1b[2J\rgone\x07\u202eevil\x9b31m\tend\n"


def test_control_characters_are_shown_not_obeyed() -> None:
    assert escape(HOSTILE) == "ok\\x1b[2J\\rgone\\x07\\u202eevil\\x9b31m\tend\n"


def test_plain_text_is_untouched() -> None:
    text = "Привет, мир — «tokens» 🙂\n\ttab"
    assert escape(text) == text


def test_json_lines_stay_valid_and_escape_what_json_dumps_leaves_raw() -> None:
    line = json_line({"text": HOSTILE, "ru": "Привет"})
    assert "\x1b" not in line
    assert "\x9b" not in line
    assert "\u202e" not in line
    assert "Привет" in line  # readable, not \\u-escaped
    assert json.loads(line) == {"text": HOSTILE, "ru": "Привет"}


def console(tty: bool) -> Console:
    return Console(io.StringIO(), io.StringIO(), stdout_tty=tty, stderr_tty=tty)


def out(c: Console) -> str:
    assert isinstance(c.stdout, io.StringIO)
    return c.stdout.getvalue()


def err(c: Console) -> str:
    assert isinstance(c.stderr, io.StringIO)
    return c.stderr.getvalue()


def test_on_a_terminal_server_text_is_escaped() -> None:
    c = console(tty=True)
    c.text(HOSTILE)
    c.note(f"[tool: {HOSTILE.strip()}]")
    assert "\x1b" not in out(c) + err(c)
    assert out(c) == escape(HOSTILE)


def test_into_a_pipe_server_text_is_written_as_it_came() -> None:
    c = console(tty=False)
    c.text(HOSTILE)
    assert out(c) == HOSTILE


def test_raw_bytes_reach_a_pipe_exactly() -> None:
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="utf-8")
    c = Console(stream, io.StringIO(), stdout_tty=False, stderr_tty=False)
    c.raw(b"data: \xff\r\n\r\n")
    assert buffer.getvalue() == b"data: \xff\r\n\r\n"


def test_raw_bytes_on_a_terminal_are_escaped() -> None:
    c = console(tty=True)
    c.raw(b"data: \x1b[31m\r\n")
    assert out(c) == "data: \\x1b[31m\\r\n"


def test_a_note_after_streamed_text_starts_on_its_own_line_on_a_terminal() -> None:
    c = console(tty=True)
    c.text("partial")
    c.note("[tool call]")
    c.line("{}")
    assert out(c) == "partial\n{}\n"
    assert err(c) == "[tool call]\n"


def test_the_summary_reports_ttft_rate_total_and_ending() -> None:
    stats = Stats()
    for t in (40.0, 60.0, 80.0, 140.0):
        stats.on_event(WireEvent(t, Update(text="x")))
    stats.on_event(WireEvent(150.0, Update(done=True)))
    line = stats.summary(Result(None, "complete", "the protocol's terminator arrived"), 240.0)
    assert line == (
        "ttft 40 ms | 4 tokens | 20.0 tokens/s | total 240 ms | "
        "ended: complete (the protocol's terminator arrived)"
    )


@pytest.mark.parametrize(
    ("result", "ended"),
    [
        (
            Result(
                None, "complete", "x", ProtocolErrorEvent("overloaded"), True, 3, ("overloaded",)
            ),
            "error event (the server reported: overloaded)",
        ),
        (
            Result(None, "complete", "the server ended the stream", ConnectionLost("the server")),
            "cut short (the server ended the stream)",
        ),
        (Result(None, "timeout", "no event for 30 s"), "timeout (no event for 30 s)"),
    ],
)
def test_only_a_stream_that_reached_its_terminator_is_complete(result: Result, ended: str) -> None:
    assert Stats().summary(result, 12.0).endswith(f" | ended: {ended}")


@pytest.mark.parametrize("outcome", ["timeout", "max-events", "interrupted"])
def test_the_summary_without_tokens_says_so(outcome: str) -> None:
    line = Stats().summary(Result(None, outcome), 12.0)
    assert line == f"ttft - | 0 tokens | - tokens/s | total 12 ms | ended: {outcome}"


def test_raw_bytes_into_a_text_only_stream_are_decoded() -> None:
    c = console(tty=False)
    c.raw(b"data: \xff\n\n")
    assert out(c) == "data: \ufffd\n\n"


def test_a_prompt_ends_streamed_text_and_goes_to_stderr() -> None:
    c = console(tty=False)
    c.text("reply")
    c.prompt("you> ")
    assert (out(c), err(c)) == ("reply\n", "you> ")


def test_a_closed_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    stream.close()
    assert Console(stream, stream).stdout_tty is False
