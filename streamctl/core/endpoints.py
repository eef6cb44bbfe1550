"""Which protocol endpoint a request is for: its method and path against the registry's.

A proxy needs it to know which exchanges are streams (and of which protocol), a HAR import to
know which protocol an entry speaks. Paths use the endpoints' ``{name}`` placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from streamctl.core.protocols import REGISTRY
from streamctl.core.protocols.exchange import Endpoint
from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["endpoint_for"]


@cache
def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def endpoint_for(
    method: str, target: str, protocols: Iterable[ChatProtocol] | None = None
) -> tuple[ChatProtocol, Endpoint] | None:
    """The protocol and endpoint that ``method`` (``WS`` for a WebSocket upgrade) and the path
    of ``target`` name, among ``protocols`` (default: every registered one)."""
    path = target.partition("?")[0]
    for proto in REGISTRY.values() if protocols is None else protocols:
        for endpoint in proto.endpoints:
            if endpoint.method == method and _pattern(endpoint.path).fullmatch(path):
                return proto, endpoint
    return None
