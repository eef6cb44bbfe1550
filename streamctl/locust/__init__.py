"""Load-test a chat backend with Locust: a protocol-aware Locust ``User`` per protocol.

::

    # locustfile.py
    from streamctl.locust import SSEDeltaDoneUser

    class Chat(SSEDeltaDoneUser):
        messages = ["Hello!", "And a follow-up"]

    # locust -f locustfile.py --host http://127.0.0.1:8000 --check-rate 0.1

The user classes are loaded on first use: importing them imports Locust, which monkey-patches
the standard library with gevent, so they belong in a Locust process only (``streamctl load``
runs Locust in processes of its own). :mod:`streamctl.locust.measure` and
:mod:`streamctl.locust.options` stay importable anywhere. What each user reports, and the
options it adds to Locust's command line: docs/load.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "USERS",
    "ChunkCompleteUser",
    "GooseUser",
    "MessageStreamUser",
    "Nonconformant",
    "SSEDeltaDoneUser",
    "StreamUser",
    "WSEventsUser",
    "report",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("streamctl.locust.users"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
