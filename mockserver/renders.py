"""Renderings of scenarios' scripts, reused where a protocol's rendering allows it."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mockserver.asgi import Message
from streamctl.core.protocols.base import Out
from streamctl.core.script import Script
from streamctl.engine.fault_plan import Plan

__all__ = ["Ready", "Renders"]

T = TypeVar("T")


class Renders(Generic[T]):
    """What a route made of a rendering of (script, key), for protocols whose rendering
    depends on nothing else: the writes, or the writes ready-made for the transport.

    A scenario's Script object is part of the key and is kept beside what was made, so a
    reloaded scenario (a new Script, perhaps at a reused ``id``) is rendered afresh. At
    ``limit`` renderings the cache starts over.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._cache: dict[tuple[int, Hashable], tuple[Script, T]] = {}

    def get(self, script: Script, key: Hashable | None, render: Callable[[], T]) -> T:
        """What ``render`` makes for ``script`` and ``key``, made the first time only; with no
        key (the rendering varies), made every time."""
        if key is None:
            return render()
        cached = self._cache.get((id(script), key))
        if cached is None or cached[0] is not script:
            if len(self._cache) >= self.limit:
                self._cache.clear()
            cached = (script, render())
            self._cache[(id(script), key)] = cached
        return cached[1]


@dataclass(frozen=True, slots=True)
class Ready:
    """A rendering's writes, and beside each one the ASGI message that sends it.

    A route keeps these per scenario (see :class:`Renders`), so a reply's messages are made once,
    not once per write of every reply. Replies share them: what sends them (Hypercorn, the
    recording tap) only reads a message.
    """

    outs: tuple[Out, ...]
    messages: tuple[Message, ...]

    @classmethod
    def made(cls, outs: Sequence[Out], message: Callable[[bytes | str], Message]) -> Ready:
        kept = tuple(outs)
        return cls(kept, tuple(message(out.payload) for out in kept))

    def sent_as_is(self, plan: Plan) -> bool:
        """Whether ``plan`` sends these writes as rendered, so the messages can go out: no
        fault and no resume changed them (:func:`~streamctl.engine.fault_plan.apply` keeps
        unchanged writes as the very same object)."""
        return plan.steps is self.outs and not plan.faults
