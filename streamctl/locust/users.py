"""Locust users that speak a chat-streaming protocol, one class per protocol.

Each user holds conversations one after another (the messages of ``--message``, or its
class's ``messages``). Every turn reports to Locust's request events, under the protocol's
name as the request type:

* ``first token``: time to the first token of the reply (only turns that had one);
* ``stream``: the whole turn, bytes received as its size; a failed turn fails here, typed by
  its exception (``Refused``, ``Unreachable``, ``Truncated``, ``Malformed``, ``Stalled``,
  ``Timeout``, ``ErrorEvent``);
* ``token gap``: one sample per gap between two tokens;
* ``tokens/s``: one sample per turn with two tokens or more; the "response time" column holds
  tokens per second, the size column the turn's tokens;
* ``check`` (sampled conversations, ``--check-rate``): the checker's time in ms; a failing
  MUST finding fails it (``Nonconformant`` with the rule ids).
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.spec import Level
from streamctl.engine.recorder import NullSink, Recorder
from streamctl.locust.control import user_finished
from streamctl.locust.measure import Meter, sampled
from streamctl.locust.options import Settings, add_arguments
from streamctl.locust.wire import (
    Bounds,
    Conversation,
    HttpConversation,
    WSConversation,
    http_client,
)
from streamctl.net import transcript_meta

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


class Nonconformant(Exception):
    """A sampled conversation broke MUST rules of its protocol (the message lists them)."""


#: Conversations started in this process, for ``--check-rate`` sampling.
_started = itertools.count()


def report(environment: Environment, kind: str, meter: Meter) -> None:
    """One turn as Locust request events."""
    fire: Any = environment.events.request.fire  # untyped in Locust
    ttft = meter.ttft_ms
    if ttft is not None:
        fire(request_type=kind, name="first token", response_time=ttft, response_length=0)
    failure = meter.failure()
    fire(
        request_type=kind,
        name="stream",
        response_time=meter.total_ms,
        response_length=meter.bytes,
        exception=failure,
    )
    for gap in meter.gaps:
        fire(request_type=kind, name="token gap", response_time=gap, response_length=0)
    rate = meter.tokens_per_s
    if rate is not None:
        fire(request_type=kind, name="tokens/s", response_time=rate, response_length=meter.tokens)


def _add_arguments(parser: Any, **_: Any) -> None:
    add_arguments(parser)


# Registered on import: a locustfile importing a user class gets the options too.
_hook: Any = events.init_command_line_parser  # Locust's event hooks are untyped
_hook.add_listener(_add_arguments)


class StreamUser(User):
    """A user of one protocol (subclass and set ``protocol``, or use the classes below).

    ``messages``: the conversation each user holds (default: ``--message``, repeatable).
    ``check_rate`` overrides ``--check-rate``. ``host`` is the server's base URL (``--host``).
    """

    abstract = True
    protocol: ClassVar[str] = ""
    messages: ClassVar[Sequence[str]] = ()
    check_rate: ClassVar[float | None] = None
    wait_time = constant(0)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        settings = Settings.parse(environment.parsed_options).with_messages(tuple(self.messages))
        if self.check_rate is not None:
            settings = replace(settings, check_rate=self.check_rate)
        self.settings = settings
        self.chat = get(self.protocol)
        self.bounds = Bounds(stall=settings.stall, timeout=settings.turn_timeout)
        self.held = 0
        self._http: Any = None

    def on_stop(self) -> None:
        if self._http is not None:
            self._http.close()

    @task
    def converse(self) -> None:
        """One conversation: every message in turn; a failed turn ends it."""
        record = sampled(next(_started), self.settings.check_rate)
        conversation = self._open(record)
        try:
            for message in self.settings.messages:
                meter = conversation.turn(message)
                report(self.environment, self.chat.name, meter)
                if meter.failure() is not None:
                    break
        finally:
            conversation.close()
        if record:
            self._check(conversation)
        self.held += 1
        if self.settings.conversations and self.held >= self.settings.conversations:
            user_finished(self.environment)
            raise StopUser

    def _options(self) -> ClientOptions:
        """This conversation's options: a session and chat of its own unless given."""
        options = self.settings.options
        changes: dict[str, Any] = {}
        if options.session is None:
            changes["session"] = f"streamctl-load-{uuid.uuid4().hex[:12]}"
        if options.chat is None and self.chat.name == "message-stream":
            # The REST API's chat ids are integers (FastAPI's int path parameter).
            changes["chat"] = str(random.randrange(1, 2**31))
        return replace(options, **changes)

    def _open(self, record: bool) -> Conversation:
        base = self.host or ""
        recorder = self._recorder if record else None
        if self.chat.transport == "ws":
            return WSConversation(self.chat, self._options(), base, self.bounds, recorder)
        if self._http is None:
            self._http = http_client(self.bounds)
        return HttpConversation(
            self.chat, self._options(), base, self._http, bounds=self.bounds, record=recorder
        )

    def _recorder(self) -> Recorder:
        meta = transcript_meta(self.host or "")
        return Recorder(NullSink(), self.chat.name, self.chat.transport, meta=meta)

    def _check(self, conversation: Conversation) -> None:
        for recorder in conversation.recorders:
            start = time.perf_counter()
            findings = check(recorder.transcript(), self.chat)
            elapsed = (time.perf_counter() - start) * 1000.0
            rules = sorted({f.rule for f in findings if f.level is Level.MUST})
            fire: Any = self.environment.events.request.fire
            fire(
                request_type=self.chat.name,
                name="check",
                response_time=elapsed,
                response_length=len(findings),
                exception=Nonconformant(", ".join(rules)) if rules else None,
            )


class GooseUser(StreamUser):
    """goose: ``POST /reply`` (send ``--secret-key``)."""

    abstract = True
    protocol = "goose"


class WSEventsUser(StreamUser):
    """ws-events: a chat over ``/ws/chat`` (send ``--token``)."""

    abstract = True
    protocol = "ws-events"


class ChunkCompleteUser(StreamUser):
    """chunk-complete: messages over ``/chat/ws``."""

    abstract = True
    protocol = "chunk-complete"


class SSEDeltaDoneUser(StreamUser):
    """sse-delta-done: ``GET /api/chat/stream?message=…``."""

    abstract = True
    protocol = "sse-delta-done"


class MessageStreamUser(StreamUser):
    """message-stream: ``POST /api/web/v1/chats/{id}/messages/stream``."""

    abstract = True
    protocol = "message-stream"


#: The user class of each protocol.
USERS: dict[str, type[StreamUser]] = {
    cls.protocol: cls
    for cls in (GooseUser, WSEventsUser, ChunkCompleteUser, SSEDeltaDoneUser, MessageStreamUser)
}
