"""The locustfile ``streamctl load`` runs: one concrete user class per protocol.

``streamctl load PROTOCOL`` names the class on Locust's command line: the protocol's name in
title case without dashes (``sse-delta-done`` -> ``SseDeltaDone``).
"""

from __future__ import annotations

from streamctl.locust.users import USERS, StreamUser


def class_name(protocol: str) -> str:
    return protocol.title().replace("-", "")


def _concrete(protocol: str, base: type[StreamUser]) -> type[StreamUser]:
    doc = f"{protocol} users for `streamctl load`."
    return type(class_name(protocol), (base,), {"__module__": __name__, "__doc__": doc})


globals().update({class_name(p): _concrete(p, base) for p, base in USERS.items()})
