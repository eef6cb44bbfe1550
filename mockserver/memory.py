"""Giving freed memory back to the operating system once the server is idle.

After a burst of clients, the memory they used stays with the process, and the server's RSS
stays near its peak for as long as it runs (a mock server in a CI job can run for hours). Two
allocators keep it:

- Python's small-object allocator takes memory in 1 MiB arenas and gives an arena back only
  when every block in it is free. A few long-lived blocks made during the burst keep their
  arenas: the interpreter's caches (method lookups, ``asyncio``'s free list of future
  iterators), and the journal, which is why it packs finished entries into one buffer.
  :func:`trim` empties those caches.
- glibc's ``malloc`` keeps freed pages for the next burst; ``malloc_trim`` hands them back.
  (Dask's workers trim the same way.)

The server trims once nothing has been streamed for a moment, never while serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import sys
from collections.abc import Callable

from streamctl.engine.clock import running_loop

__all__ = ["IdleTrim", "trim"]


def trim() -> bool:
    """Collect garbage, then return the C heap's free pages to the OS; false where the C library
    cannot (not glibc)."""
    _renew_future_iterators()
    _renew_loop_handles()
    # What a burst leaves in reference cycles (an aborted connection's exception and traceback,
    # say) is only freed by a collection, and only freed memory can go back. A full collection
    # also empties the interpreter's free lists of tuples, lists, dicts and floats.
    gc.collect()
    # The method cache holds the names it looked up last, strings made anywhere in the heap.
    sys._clear_type_cache()
    malloc_trim = _malloc_trim()
    return malloc_trim is not None and bool(malloc_trim(0))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once (each lookup makes objects, which a trim should
    not); None elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        # The process's own symbols include the C library's; only glibc has malloc_trim.
        function: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
        return function
    return None


#: How many future iterators CPython's ``_asyncio`` keeps for reuse (FI_FREELIST_MAXLEN).
_FUTURE_ITER_CACHE = 255


def _renew_future_iterators() -> None:
    """Swap the iterators ``_asyncio`` keeps for reuse (``await future`` makes one) for new ones.

    The cached ones were made at the peak of the last burst, wherever the heap then had room, and
    each keeps its arena. Taking them all out, then freeing newly made ones first fills the cache
    with those, so the old ones are really freed. Best effort: outside a running loop, or where
    the cache differs, this frees nothing and costs a few hundred microseconds.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    futures: list[asyncio.Future[None]] = [
        asyncio.Future(loop=loop) for _ in range(2 * _FUTURE_ITER_CACHE)
    ]
    cached = [f.__await__() for f in futures[:_FUTURE_ITER_CACHE]]
    fresh = [f.__await__() for f in futures[_FUTURE_ITER_CACHE:]]
    del fresh  # back into the cache, which is empty
    del cached  # the cache is full: freed


#: How many Handle and TimerHandle objects uvloop keeps for reuse (its DEFAULT_FREELIST_SIZE).
_HANDLE_CACHE = 250


def _renew_loop_handles() -> None:
    """Swap the callback and timer handles uvloop keeps for reuse for new ones.

    The same story as :func:`_renew_future_iterators`: uvloop keeps up to 250 of each (Cython
    free lists), made at the peak of the last burst. The cached ones come out first, then new
    ones; the loop lets go of the cancelled handles on its next pass, and the new ones are then
    freed first. On asyncio's own loops (no such cache) this only makes and drops some objects.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    handles = [loop.call_soon(_nothing) for _ in range(2 * _HANDLE_CACHE)]
    timers = [loop.call_later(3600, _nothing) for _ in range(2 * _HANDLE_CACHE)]
    for handle in (*handles, *timers):
        handle.cancel()
    loop.call_soon(_release, handles, timers)


def _nothing() -> None:
    return None


def _release(*groups: list[asyncio.Handle] | list[asyncio.TimerHandle]) -> None:
    for group in groups:
        del group[_HANDLE_CACHE:]  # the new ones: back into the cache, which is empty
        group.clear()  # the cache is full: the old ones are freed


class IdleTrim:
    """Calls ``trim`` once the server has been idle for ``delay_s`` (0: never).

    Busy and idle alternate with every request when clients come one at a time (a test suite),
    so switching costs next to nothing: one loop timer at most, which checks when it fires
    whether the server is still idle, and for how long.
    """

    def __init__(self, delay_s: float, trim: Callable[[], object] | None = None) -> None:
        self.delay_s = delay_s
        self._trim = trim
        self._idle_since: float | None = None  # None: busy, or idle and trimmed already
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def idle(self) -> None:
        """Nothing is being served any more: trim after the delay unless work comes back."""
        if self.delay_s <= 0:
            return
        try:
            loop = running_loop()
        except RuntimeError:  # not on the server's loop (a test driving the state directly)
            return
        self._idle_since = loop.time()
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_at(self._idle_since + self.delay_s, self._due)

    def busy(self) -> None:
        """Work arrived: no trim until the server is idle again."""
        self._idle_since = None

    def _due(self) -> None:
        self._timer = None
        since = self._idle_since
        if since is None:  # busy now: the next idle spell waits anew
            return
        loop = running_loop()
        if loop.time() < since + self.delay_s:  # busy and idle again meanwhile
            self._timer = loop.call_at(since + self.delay_s, self._due)
            return
        self._idle_since = None  # one trim per idle spell
        (self._trim or trim)()
