"""``streamctl serve`` hands its bound socket to a lean interpreter on the C library's allocator.

**The allocator.** CPython's small-object allocator (pymalloc) takes memory in 1 MiB arenas and
gives an arena back only when every block in it is free. After a burst of clients, a few hundred
objects that outlive it (measured: about 200 more live blocks than before three bursts of 2,000
clients) are scattered over the burst's arenas and keep 20-25 of them, so the idle server stayed
40-50 % above its idle size. With ``PYTHONMALLOC=malloc`` every object comes from glibc's
``malloc``, whose free pages the server's idle trim hands back (``mockserver/memory.py``): after
the same three bursts the server is back within 6-7 % of idle, for about 5 % more CPU per paced
token (``scripts/soak_server.py``, ``scripts/bench_targets.py``; docs/security.md has the
figures). Only on Linux with glibc (where the trim exists), and never when ``PYTHONMALLOC`` is
already set: ``PYTHONMALLOC=pymalloc streamctl serve`` keeps Python's own allocator.

**The lean process.** The allocator is chosen when an interpreter starts, so the server needs an
interpreter of its own anyway; that one imports only the server stack. The command line's
(Typer, Click, and the pydantic Typer imports) took 9 MB of the idle server's 59 MB, every one
of them held while serving: with 1,000 paced streams open, the server's whole peak was 90 MB.

So ``serve`` reads and checks its options, loads the scenarios (to report their errors) and binds
the socket, then replaces itself (``os.execve``: same process id, same descriptors, so Ctrl-C
and SIGTERM reach the server) with ``python -m mockserver.serving``, given the configuration, the
socket's descriptor and the banner in its environment; the banner is printed once the new
process has made the app, so a client that waits for it is served at once. Only the console
entry point allows it (:func:`allow`): ``serve_command`` called in a test process serves in it.
Where the interpreter cannot be started again, or not in place (``os.execve`` on Windows starts
another process), ``serve`` serves in its own process.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping

__all__ = ["ENV", "allow", "hand_over", "wants_malloc"]

ENV = "PYTHONMALLOC"
_allowed = False


def allow() -> None:
    """Let :func:`hand_over` replace this process (the console entry point calls this)."""
    global _allowed  # noqa: PLW0603 (one switch per process, set once at start)
    _allowed = True


def wants_malloc(environ: Mapping[str, str]) -> bool:
    """Whether the serving interpreter should run on glibc's ``malloc``."""
    if ENV in environ:
        return False
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):  # not a glibc system
        return False
    return sys.platform.startswith("linux") and libc.startswith("glibc")


def hand_over(config_json: str, sock: socket.socket, banner: str) -> None:
    """Replace this process with ``python -m mockserver.serving`` serving ``config_json`` on
    ``sock`` (this call then never returns; the new process prints ``banner`` when it is
    ready); do nothing when not allowed or not possible."""
    from mockserver.startup import BANNER_VAR, CONFIG_ENV, FD_VAR  # noqa: PLC0415

    if not _allowed or not sys.executable or os.name != "posix":
        return
    env = {**os.environ, CONFIG_ENV: config_json, FD_VAR: str(sock.fileno()), BANNER_VAR: banner}
    if wants_malloc(os.environ):
        env[ENV] = "malloc"
    sock.set_inheritable(True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        # The user's own words follow, for `ps` to show (the serving process ignores them).
        command = [sys.executable, "-m", "mockserver.serving", "--", "streamctl", *sys.argv[1:]]
        os.execve(sys.executable, command, env)
    except OSError:  # the interpreter cannot be started again: serve in this process
        return
