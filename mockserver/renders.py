"""Renderings of scenarios' scripts, reused where a protocol's rendering allows it."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from streamctl.core.protocols.base import Out
from streamctl.core.script import Script

__all__ = ["Renders"]


class Renders:
    """Writes rendered for (script, key), for protocols whose rendering depends on nothing else.

    A scenario's Script object is part of the key and is kept beside the writes, so a reloaded
    scenario (a new Script, perhaps at a reused ``id``) is rendered afresh. At ``limit``
    renderings the cache starts over.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._cache: dict[tuple[int, Hashable], tuple[Script, tuple[Out, ...]]] = {}

    def get(
        self, script: Script, key: Hashable | None, render: Callable[[], Sequence[Out]]
    ) -> Sequence[Out]:
        """The writes for ``script`` and ``key``, from ``render`` the first time; with no key
        (the rendering varies), from ``render`` every time."""
        if key is None:
            return render()
        cached = self._cache.get((id(script), key))
        if cached is None or cached[0] is not script:
            if len(self._cache) >= self.limit:
                self._cache.clear()
            cached = (script, tuple(render()))
            self._cache[(id(script), key)] = cached
        return cached[1]
