"""Giving freed memory back to the operating system once the server is idle.

After a burst of clients, glibc's allocator keeps the memory they used for the next burst, and
the server's RSS stays near its peak for as long as it runs (a mock server in a CI job can run
for hours). ``malloc_trim`` hands the free pages back. The server asks for it once nothing has
been streamed for a moment, never while serving. (Dask's workers trim the same way.)
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
from collections.abc import Callable

__all__ = ["IdleTrim", "trim"]


def trim() -> bool:
    """Collect garbage, then return the C heap's free pages to the OS; false where the C library
    cannot (not glibc)."""
    # What a burst leaves in reference cycles (an aborted connection's exception and traceback,
    # say) is only freed by a collection, and only freed memory can go back.
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        # The process's own symbols include the C library's; only glibc has malloc_trim.
        return bool(ctypes.CDLL(None).malloc_trim(0))
    return False


class IdleTrim:
    """Calls ``trim`` once the server has been idle for ``delay_s`` (0: never)."""

    def __init__(self, delay_s: float, trim: Callable[[], object] | None = None) -> None:
        self.delay_s = delay_s
        self._trim = trim
        self._pending: asyncio.TimerHandle | None = None

    def idle(self) -> None:
        """Nothing is being served any more: trim after the delay unless work comes back."""
        if self.delay_s <= 0 or self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the server's loop (a test driving the state directly)
            return
        self._pending = loop.call_later(self.delay_s, self._run)

    def busy(self) -> None:
        """Work arrived: no trim until the server is idle again."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _run(self) -> None:
        self._pending = None
        (self._trim or trim)()
