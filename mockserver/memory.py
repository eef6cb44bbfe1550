"""Giving freed memory back to the operating system once the server is idle.

After a burst of clients, the memory they used stays with the process, and the server's RSS
stays near its peak for as long as it runs (a mock server in a CI job can run for hours). Two
allocators keep it:

- Python's small-object allocator takes memory in 1 MiB arenas and gives an arena back only
  when every block in it is free. A few long-lived blocks made during the burst keep their
  arenas. Walking the arenas after a burst (libpython's own structures, read in the soak
  server) showed what they were: the objects that ``_asyncio`` (future iterators) and uvloop
  (callback handles) keep for reuse, made at the peak, and objects freed after the
  trim by requests still open when it ran. :class:`Spares` swaps the caches' contents for
  objects made before the burst; the trim waits until no request at all is left, not only no
  stream. The journal packs finished entries into one buffer for the same reason; the
  interpreter's method cache is emptied.
- glibc's ``malloc`` keeps freed pages for the next burst; ``malloc_trim`` hands them back.
  (Dask's workers trim the same way.)

The server trims once nothing has been served for a moment, never while serving. ``streamctl
serve`` runs on glibc's allocator for all objects (``PYTHONMALLOC=malloc``,
streamctl/cli/handover.py), where the trim gives back any free page, not whole arenas only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import functools
import gc
import sys
from collections.abc import Callable

from streamctl.engine.clock import running_loop

__all__ = ["IdleTrim", "Spares", "prepare", "trim"]


def trim() -> bool:
    """Collect garbage, then return the C heap's free pages to the OS; false where the C library
    cannot (not glibc)."""
    # What a burst leaves in reference cycles (an aborted connection's exception and traceback,
    # say) is only freed by a collection, and only freed memory can go back. A full collection
    # also empties the interpreter's free lists of tuples, lists, dicts and floats.
    gc.collect()
    _renew_caches()
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
#: How many callback handles uvloop keeps for reuse (its DEFAULT_FREELIST_SIZE).
_HANDLE_CACHE = 250


class Spares:
    """Objects for the caches that keep freed objects for reuse, made while the heap is compact.

    ``_asyncio`` keeps up to 255 freed future iterators (``await future`` makes one); uvloop keeps
    250 callback handles (a Cython free list). After a burst those caches hold objects made at
    its peak, wherever the heap then had room, and each keeps its 1 MiB allocator arena. At a
    trim the cached ones are taken out, the spares put in (the caches are then full), the taken
    ones freed for good, and the spares taken out again: the caches are left empty, the spares
    stay where they were made, and the next burst starts afresh.

    Objects made at the trim instead of spares would land wherever the allocator has room after
    the burst, which is mostly in the burst's own arenas (measured: they kept them). So the
    handles share one context made here: each would otherwise copy the current one, and those
    copies, made at the trim, kept arenas too. (uvloop's timer handles, cached the same way,
    carry a float made at each drawing: spares of them would keep what they were meant to free.)
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._context = contextvars.copy_context()
        self._futures: list[asyncio.Future[None]] = [
            loop.create_future() for _ in range(_FUTURE_ITER_CACHE)
        ]
        self._iterators = self._draw_iterators()
        self._handles = self._draw_handles()

    def _draw_iterators(self) -> list[object]:
        return [future.__await__() for future in self._futures]

    def _draw_handles(self) -> list[asyncio.Handle]:
        call_soon, context = self.loop.call_soon, self._context
        handles = [call_soon(_nothing, context=context) for _ in range(_HANDLE_CACHE)]
        for handle in handles:
            handle.cancel()  # the loop lets go of them on its next pass
        return handles

    def swap(self) -> None:
        """Put the spares in the caches in place of what they hold (handles: on the loop's next
        pass, once it has let go of the ones taken out)."""
        futures = [self.loop.create_future() for _ in range(_FUTURE_ITER_CACHE)]
        taken = [future.__await__() for future in futures]
        self._iterators.clear()  # into the cache, which is empty now
        del taken  # the cache is full: freed
        self._iterators = self._draw_iterators()  # the cache holds the spares only: LIFO
        self.loop.call_soon(self._swap_handles, self._draw_handles(), context=self._context)

    def _swap_handles(self, taken: list[asyncio.Handle]) -> None:
        self._handles.clear()
        taken.clear()
        self._handles = self._draw_handles()


#: The spares for the running server's loop (see :func:`prepare`).
_spares: Spares | None = None


def prepare() -> None:
    """Make the spares (once per loop), at the server's first request: the heap is compact."""
    global _spares  # noqa: PLW0603 (one server loop per process)
    with contextlib.suppress(RuntimeError):  # no running loop: nothing to prepare
        loop = asyncio.get_running_loop()
        if _spares is None or _spares.loop is not loop:
            _spares = Spares(loop)


def _renew_caches() -> None:
    """Swap what the caches hold for the spares, where the running loop has some."""
    with contextlib.suppress(RuntimeError):  # no running loop: no spares for it
        if _spares is not None and _spares.loop is asyncio.get_running_loop():
            _spares.swap()


def _nothing() -> None:
    return None


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
        self._prepared = False
        #: Trims done (the soak script reports it).
        self.trims = 0

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
        if not self._prepared:  # the first request: make the spares while the heap is compact
            self._prepared = True
            if self.delay_s > 0:
                prepare()

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
        self.trims += 1
        (self._trim or trim)()
