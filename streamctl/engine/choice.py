"""Choosing the scenario that answers a request: requested, else queued, else matched, else the
default reply.

:func:`choose` picks the reply for one turn. :func:`choose_recording` picks, when a WebSocket
connection opens, a recording that answers the whole connection (a recorded connection is
replayed message for message, not turn by turn).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from streamctl.core.script import Script, default_reply
from streamctl.engine.scenarios import Scenario, ScenarioSet

__all__ = ["Choice", "Queues", "choose", "choose_recording"]


class Queues:
    """The admin queue: "the next N requests on protocol X get scenario Y", first in first out."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[list[Any]]] = {}

    def add(self, protocol: str, scenario: str, count: int = 1) -> None:
        self._queues.setdefault(protocol, deque()).append([scenario, count])

    def peek(self, protocol: str) -> str | None:
        """The scenario name the next request on ``protocol`` gets, without taking it."""
        queue = self._queues.get(protocol)
        return queue[0][0] if queue else None

    def take(self, protocol: str) -> str | None:
        """Take one request's worth of the queue for ``protocol``."""
        queue = self._queues.get(protocol)
        if not queue:
            return None
        head = queue[0]
        head[1] -= 1
        if head[1] <= 0:
            queue.popleft()
        return str(head[0])

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {
            protocol: [{"scenario": name, "remaining": count} for name, count in queue]
            for protocol, queue in self._queues.items()
            if queue
        }

    def clear(self) -> None:
        self._queues.clear()


@dataclass(frozen=True, slots=True)
class Choice:
    """The reply chosen for a turn, and why (``request``, ``queue``, ``match`` or ``default``)."""

    script: Script
    scenario: Scenario | None
    how: str

    @property
    def name(self) -> str:
        return "default" if self.scenario is None else self.scenario.name


def choose(
    scenarios: ScenarioSet,
    queues: Queues,
    protocol: str,
    user_text: str,
    *,
    index: int = 0,
    requested: Scenario | None = None,
    default_delay_ms: float = 0.0,
) -> Choice:
    """Pick the reply for one turn: requested, else queued, else matched, else the default.

    A queued name that no longer applies (the scenarios were reloaded since) is skipped.
    """
    if requested is not None:
        return Choice(requested.script(index), requested, "request")
    queued = queues.take(protocol)
    while queued is not None:
        scenario = scenarios.by_name.get(queued)
        if scenario is not None and scenario.applies_to(protocol):
            return Choice(scenario.script(index), scenario, "queue")
        queued = queues.take(protocol)
    matched = scenarios.matching(protocol, user_text)
    if matched is not None:
        return Choice(matched.script(index), matched, "match")
    return Choice(default_reply(user_text, default_delay_ms), None, "default")


def choose_recording(
    scenarios: ScenarioSet, queues: Queues, protocol: str, requested: Scenario | None
) -> Choice | None:
    """The recording that answers a whole WebSocket connection, if any: the requested scenario
    when it is a recording, else the head of the queue when it is one (then taken from the
    queue). A queued scripted scenario stays queued for the connection's first turn."""
    if requested is not None:
        return _recorded(requested, "request")
    queued = queues.peek(protocol)
    head = scenarios.by_name.get(queued) if queued is not None else None
    if head is None or not head.applies_to(protocol) or head.recording is None:
        return None
    queues.take(protocol)
    return _recorded(head, "queue")


def _recorded(scenario: Scenario, how: str) -> Choice | None:
    return Choice(scenario.script(0), scenario, how) if scenario.recording is not None else None
