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


def test_ctrl_c_while_a_reply_streams_cancels_its_task_and_raises_nothing() -> None:
    import asyncio

    from streamctl.cli.chat import Interrupts

    interrupts = Interrupts()

    async def reply() -> None:
        interrupts.task = asyncio.current_task()
        asyncio.get_running_loop().call_soon(interrupts, 2, None)  # Ctrl-C mid-reply
        await asyncio.sleep(60)

    with asyncio.Runner() as runner:
        try:
            runner.run(reply())
        except asyncio.CancelledError:
            cancelled = True
    assert cancelled
    assert not interrupts.leave


def test_ctrl_c_at_the_prompt_or_between_turns_leaves() -> None:
    from streamctl.cli.chat import Interrupts

    class CtrlC(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            interrupts(2, None)  # the signal arrives while readline blocks
            raise AssertionError("not reached")

    interrupts = Interrupts()
    assert interrupts.readline(CtrlC()) == ""
    assert not interrupts.at_prompt
    interrupts(2, None)  # neither streaming nor at the prompt: remembered
    assert interrupts.leave
    assert interrupts.readline(io.StringIO("never read\n")) == ""


def test_the_handler_is_installed_for_the_chat_only() -> None:
    import signal

    from streamctl.cli.chat import Interrupts

    interrupts = Interrupts()
    before = signal.getsignal(signal.SIGINT)
    with interrupts.installed():
        assert signal.getsignal(signal.SIGINT) is interrupts
    assert signal.getsignal(signal.SIGINT) is before
