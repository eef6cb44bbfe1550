"""What a stream request asks of the mock itself, read off the request for both transports.

``?scenario=`` or ``X-Streamctl-Scenario``: the scenario to play; ``?fault=`` (repeatable) or
``X-Streamctl-Fault``: faults to inject; ``?ids=1``: SSE ids and ``Last-Event-ID`` resume. The
query parameters are removed from the query: the protocol sees what a real backend would.
What the server then does with them, in which order, is :mod:`streamctl.engine.reply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from streamctl.engine.fault_parsing import Fault, FaultError, parse_many
from streamctl.engine.reply import bad_fault

__all__ = ["FAULT_HEADER", "FAULT_PARAM", "SCENARIO_HEADER", "SCENARIO_PARAM", "Asks", "read"]

SCENARIO_PARAM = "scenario"
SCENARIO_HEADER = "x-streamctl-scenario"
FAULT_PARAM = "fault"
FAULT_HEADER = "x-streamctl-fault"
IDS_PARAM = "ids"


@dataclass(frozen=True, slots=True)
class Asks:
    """A request's asks: a scenario by name, faults, SSE ids."""

    scenario: str | None = None
    faults: tuple[Fault, ...] = ()
    ids: bool = False


def read(query_string: bytes, query: dict[str, str], headers: Mapping[str, str]) -> Asks:
    """The asks of a request whose parsed ``query`` (one value per name) this edits.

    Query parameters come first (EventSource cannot set headers); a fault spec that cannot be
    used raises :class:`~streamctl.engine.reply.Refused` (400/422)."""
    name = query.pop(SCENARIO_PARAM, None)
    try:
        faults = _faults(query_string, query, headers)
    except FaultError as exc:
        raise bad_fault(exc) from None
    ids = query.pop(IDS_PARAM, None) == "1"
    return Asks(name if name is not None else headers.get(SCENARIO_HEADER), faults, ids)


def _faults(
    query_string: bytes, query: dict[str, str], headers: Mapping[str, str]
) -> tuple[Fault, ...]:
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
