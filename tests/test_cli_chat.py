"""``streamctl chat`` at a terminal: prompts, /help, /quit and end of input."""

from __future__ import annotations

import io

from streamctl.cli.chat import HELP, read_messages
from streamctl.cli.output import Console


def test_a_person_at_a_terminal_gets_prompts_help_and_a_clean_end() -> None:
    stderr = io.StringIO()
    console = Console(io.StringIO(), stderr, stdout_tty=True, stderr_tty=True)
    stdin = io.StringIO("hello\n/help\n   \nsecond\r\n")
    messages = list(read_messages(stdin, console, interactive=True))
    assert messages == ["hello", "second"]
    assert stderr.getvalue() == f"you> you> {HELP}\nyou> you> you> \n"


def test_quit_ends_the_chat_before_end_of_input() -> None:
    console = Console(io.StringIO(), io.StringIO(), stdout_tty=False, stderr_tty=False)
    stdin = io.StringIO("one\n/quit\ntwo\n")
    assert list(read_messages(stdin, console, interactive=False)) == ["one"]


def test_a_pipe_gets_no_prompts() -> None:
    stderr = io.StringIO()
    console = Console(io.StringIO(), stderr, stdout_tty=False, stderr_tty=False)
    assert list(read_messages(io.StringIO("a\nb"), console, interactive=False)) == ["a", "b"]
    assert stderr.getvalue() == ""
