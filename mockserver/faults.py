"""The faults a request asks for: ``?fault=`` (repeatable) and ``X-Streamctl-Fault``.

Parsing and applying live in :mod:`streamctl.engine.faults` and
:mod:`streamctl.engine.fault_plan`; this module only reads them off a request (and removes the
parameter, so the protocol sees what a real backend would), and draws the server-wide faults.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl

from streamctl.core.protocols.base import HttpResponse
from streamctl.engine.faults import Fault, FaultError, parse_many

__all__ = ["FAULT_HEADER", "FAULT_PARAM", "ServerFaults", "bad_fault", "requested_faults"]

FAULT_PARAM = "fault"
FAULT_HEADER = "x-streamctl-fault"


def requested_faults(
    query_string: bytes, query: dict[str, str], headers: Mapping[str, str]
) -> tuple[Fault, ...]:
    """Every fault the request names (query parameters first, then the header).

    Raises :class:`FaultError`; removes ``fault`` from ``query``.
    """
    texts: list[str] = []
    if query.pop(FAULT_PARAM, None) is not None:
        # ``query`` keeps one value per name; the parameter may repeat, so read them all.
        # Only then: parsing the query again on every stream request was wasted work.
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        texts = [value for name, value in pairs if name == FAULT_PARAM]
    header = headers.get(FAULT_HEADER)
    if header is not None:
        texts.append(header)
    return parse_many(texts)


def bad_fault(exc: FaultError) -> HttpResponse:
    """The 400/422 answer for a fault spec that cannot be used."""
    return HttpResponse.json(exc.status, {"detail": str(exc)})


class ServerFaults:
    """``streamctl serve --fault SPEC --fault-rate P --seed N``: each stream gets the faults
    with probability ``rate``, drawn from one generator seeded with ``seed``."""

    def __init__(self, faults: tuple[Fault, ...], rate: float, seed: int | None) -> None:
        self.faults = faults
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> tuple[Fault, ...]:
        """The server-wide faults for one stream (often none)."""
        if not self.faults or self.rate <= 0:
            return ()
        with self._lock:
            hit = self._random.random() < self.rate
        return self.faults if hit else ()
