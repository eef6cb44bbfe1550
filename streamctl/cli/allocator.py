"""``streamctl serve`` runs on the C library's allocator, so a burst's memory goes back.

CPython's small-object allocator (pymalloc) takes memory in 1 MiB arenas and gives an arena back
only when every block in it is free. After a burst of clients, a few hundred objects that
outlive it (measured: about 200 more live blocks than before three bursts of 2,000 clients)
are scattered over the burst's arenas and keep 20-25 of them, so the idle server stayed 40-50 %
above its idle size. With ``PYTHONMALLOC=malloc`` every object comes from glibc's ``malloc``,
whose free pages the server's idle trim hands back (``mockserver/memory.py``): after the same
three bursts the server is back within 6-7 % of idle, for about 5 % more CPU per paced token
(``scripts/soak_server.py``, ``scripts/bench_targets.py``; docs/security.md has the figures).

The allocator is chosen when the interpreter starts, so the ``serve`` command starts the
interpreter once more, with the same command line (``sys.orig_argv``) and ``PYTHONMALLOC=malloc``
added to its environment, before it does anything else: same process id, same descriptors.
Only on Linux with glibc (where the trim exists), and never when ``PYTHONMALLOC`` is already
set: ``PYTHONMALLOC=pymalloc streamctl serve`` keeps Python's own allocator.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["ENV", "restart_on_malloc", "wants_malloc"]

ENV = "PYTHONMALLOC"


def wants_malloc(args: Sequence[str]) -> bool:
    """Whether the command line ``args`` (without the program) runs the server here and the
    interpreter should be started again on ``malloc``."""
    words = [arg for arg in args if not arg.startswith("-")]
    if not words or words[0] != "serve" or {"--help", "-h"} & set(args):
        return False
    if ENV in os.environ or not sys.executable or not getattr(sys, "orig_argv", None):
        return False
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):  # not a glibc system
        return False
    return sys.platform.startswith("linux") and libc.startswith("glibc")


def restart_on_malloc(args: Sequence[str]) -> None:
    """Start the interpreter again on ``malloc`` when :func:`wants_malloc` says so (this call
    then never returns); otherwise do nothing."""
    if not wants_malloc(args):
        return
    os.environ[ENV] = "malloc"
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError:  # the interpreter cannot be started again: serve on pymalloc
        del os.environ[ENV]
