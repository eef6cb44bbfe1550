"""Renderings kept per (script, key): reused, afresh for a new script, bounded."""

from __future__ import annotations

from collections.abc import Hashable

from mockserver.renders import Renders
from streamctl.core.protocols.base import Out
from streamctl.core.script import Script, Token


def test_a_rendering_is_reused_per_script_and_key_and_the_cache_is_bounded() -> None:
    made: list[object] = []
    renders = Renders(limit=2)

    def render(script: Script, key: Hashable | None) -> tuple[Out, ...]:
        def once() -> list[Out]:
            made.append(key)
            return [Out(script.text)]

        return tuple(renders.get(script, key, once))

    hello, same_text = Script((Token("hello"),)), Script((Token("hello"),))
    assert render(hello, 0) == render(hello, 0) == (Out("hello"),)
    assert made == [0]
    render(same_text, 0)  # an equal script from a reload is another object: rendered afresh
    assert made == [0, 0]
    render(hello, 1)  # a third rendering: the cache started over
    render(hello, 0)
    assert made == [0, 0, 1, 0]
    render(hello, None)  # no key: the rendering varies, so it is never kept
    render(hello, None)
    assert made == [0, 0, 1, 0, None, None]
