"""Everything the running server remembers: protocol state, scenarios, queues, the journal."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from mockserver.config import ServerConfig
from mockserver.cors import Cors
from mockserver.journal import Journal
from mockserver.memory import IdleTrim
from mockserver.streams import Streams
from streamctl.core.protocols import REGISTRY
from streamctl.core.protocols.exchange import Turn
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.transcript import Transcript
from streamctl.engine.choice import Choice, Queues, choose, choose_recording
from streamctl.engine.fault_parsing import parse_many
from streamctl.engine.fault_planning import ServerFaults
from streamctl.engine.scenarios import Scenario, ScenarioError, ScenarioSet, fingerprint, load_dirs

__all__ = ["ServerState"]

#: How often :meth:`ServerState.wait_idle` looks.
_IDLE_POLL_S = 0.005

log = logging.getLogger("mockserver")


class ServerState:
    """The mutable half of the server. One per app; reset through the admin API."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.settings = config.settings()
        self.sources = config.scenario_sources()
        self._marks = fingerprint(self.sources)
        self._files: ScenarioSet = load_dirs(self.sources)
        #: Scenarios added through the admin API (by a test, say): kept until reset.
        self.added: dict[str, Scenario] = {}
        self.scenarios = self._files
        self.queues = Queues()
        self.journal = Journal(config.wall_clock, config.journal_limit)
        self.cors = Cors(config.cors_origins)
        self.faults = ServerFaults(parse_many(config.faults), config.fault_rate, config.seed)
        self.protocol_states: dict[str, Any] = {}
        self.recording = config.record
        self.transcripts: deque[Transcript] = deque(maxlen=max(1, config.journal_limit))
        self.started = config.wall_clock()
        self._active = 0
        #: Requests and WebSocket connections in progress (streams or not): the idle trim waits
        #: for none to be left, since whatever one frees after the trim stays where the burst
        #: put it (see ``memory.py``).
        self._calls = 0
        self._trim = IdleTrim(config.trim_idle_s)
        self.streams = Streams(config.stream_limit, config.hold_after)
        self.reset()

    @property
    def protocols(self) -> Sequence[ChatProtocol]:
        return list(REGISTRY.values())

    def reset(self) -> None:
        """Forget every chat, session and history, the queues, the journal, the recorded
        transcripts and the scenarios added at run time; release every open stream for good."""
        self.streams.release_all(free=True)
        self.protocol_states = {p.name: p.new_state(self.settings) for p in REGISTRY.values()}
        self.queues.clear()
        self.journal.clear()
        self.transcripts.clear()
        self.added.clear()
        self.scenarios = self._files

    def keep(self, transcript: Transcript) -> None:
        """Keep a recorded exchange (see ``tap.py``)."""
        self.transcripts.append(transcript)

    def add(self, scenario: Scenario) -> None:
        """Serve ``scenario`` until reset, replacing any of the same name."""
        self.added[scenario.name] = scenario
        self._combine()

    def _combine(self) -> None:
        files = [s for s in self._files.scenarios if s.name not in self.added]
        self.scenarios = ScenarioSet((*files, *self.added.values()))

    def state_of(self, protocol: str) -> Any:
        return self.protocol_states[protocol]

    # --- scenarios ----------------------------------------------------------------------

    def reload(self) -> ScenarioSet:
        """Load the scenario files again; on an error the old set stays and the error rises."""
        marks = fingerprint(self.sources)
        self._files, self._marks = load_dirs(self.sources), marks
        self._combine()
        return self.scenarios

    def reload_if_changed(self) -> bool:
        """Reload when a scenario file was added, removed or edited; log what happened."""
        marks = fingerprint(self.sources)
        if marks == self._marks:
            return False
        self._marks = marks  # a broken file is reported once, not at every poll
        try:
            scenarios = load_dirs(self.sources)
        except ScenarioError as exc:
            log.error("scenario files changed but cannot be loaded (keeping the old ones): %s", exc)
            return False
        self._files = scenarios
        self._combine()
        log.info("scenario files changed: %d scenarios loaded", len(scenarios))
        return True

    def choose(self, protocol: str, turn: Turn, requested: Scenario | None) -> Choice:
        """The reply for ``turn``: requested, else queued, else matched, else the default."""
        return choose(
            self.scenarios,
            self.queues,
            protocol,
            turn.user_text,
            index=turn.index,
            requested=requested,
            default_delay_ms=self.config.default_delay_ms,
        )

    def choose_recording(self, protocol: str, requested: Scenario | None) -> Choice | None:
        """The recording that answers a whole WebSocket connection, if any."""
        return choose_recording(self.scenarios, self.queues, protocol, requested)

    # --- activity (for tests that wait until every stream ended) -------------------------

    @property
    def active(self) -> int:
        """Streams and WebSocket connections in progress."""
        return self._active

    def begin(self) -> None:
        # Called on the server's loop only (two per request): a counter, no lock.
        self._active += 1

    def end(self) -> None:
        self._active -= 1

    @property
    def trims(self) -> int:
        """How often freed memory was given back (see ``memory.py``)."""
        return self._trim.trims

    def call_began(self) -> None:
        """A request or WebSocket connection arrived (any, not only streams)."""
        self._calls += 1
        self._trim.busy()

    def call_ended(self) -> None:
        self._calls -= 1
        if not self._calls:
            self._trim.idle()

    def wait_idle(self, timeout: float) -> bool:
        """Block (from another thread, a test's) until nothing is in progress; false on
        timeout. It looks every few milliseconds: serving pays nothing for it."""
        deadline = time.monotonic() + timeout
        while self._active:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_IDLE_POLL_S)
        return True
