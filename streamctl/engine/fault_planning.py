"""Applying faults to a reply: the protocol's writes in, a :class:`Plan` out.

Everything here is generic over protocols: faults work on the list of
:class:`~streamctl.core.protocols.exchange.Out` a protocol renders (``Out.token`` and
``Out.terminal`` say which write carries which token and which one ends the reply), on raw SSE
bytes, and on JSON payloads. Malformed frames are made by generic JSON surgery; a "missing
required field" is chosen from the protocol's own schemas.

Fault timings (stall, delay, jitter, drip gaps, ``drop:ms``) are real milliseconds: the
server's ``--speed`` does not scale them.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols.exchange import HttpResponse, Out
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol, WSProtocol
from streamctl.core.spec import Msg
from streamctl.core.sse import SSEEvent, decode
from streamctl.core.transcript import Headers
from streamctl.engine.fault_parsing import Fault

__all__ = ["Drop", "Pause", "Plan", "ServerFaults", "apply", "refusal"]

UNKNOWN_TYPE = "streamctl_unknown_type"


@dataclass(frozen=True, slots=True)
class Pause:
    """Send nothing (or only heartbeats, with ``pings``) for ``ms`` real milliseconds."""

    ms: float
    pings: bool = False


@dataclass(frozen=True, slots=True)
class Drop:
    """End the connection badly once the steps are out: ``code`` is a WebSocket close code."""

    code: int = 1011


Step = Out | Pause


@dataclass
class Plan:
    """What to send for one reply once the faults are applied."""

    steps: Sequence[Step]
    drop: Drop | None = None
    deadline_ms: float | None = None
    content_type: str | None = None
    content_length: bool = False
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def head(self, headers: Headers) -> Headers:
        """The response headers with the HTTP-level faults applied."""
        out = list(headers)
        if self.content_type is not None:
            out = [(k, v) for k, v in out if k.lower() != "content-type"]
            out.append(("content-type", self.content_type))
        if self.content_length:
            size = sum(len(_bytes(s.payload)) for s in self.steps if isinstance(s, Out))
            out.append(("content-length", str(size)))
        return tuple(out)


def refusal(faults: Sequence[Fault]) -> HttpResponse | None:
    """The answer an ``http:STATUS`` fault sends instead of the stream, if any."""
    for fault in faults:
        if fault.name == "http:STATUS":
            status = fault.int("status")
            body = HttpResponse.json(status, {"detail": f"fault injected: {fault.spec}"})
            headers = body.headers
            if "retry-after" in fault.params:
                headers = (*headers, ("retry-after", str(fault.int("retry-after"))))
            return HttpResponse(status, body.body, headers)
    return None


def apply(faults: Sequence[Fault], outs: Sequence[Out], protocol: ChatProtocol) -> Plan:
    """The plan for sending ``outs`` with ``faults`` (in a fixed order, whatever was asked)."""
    if not faults:
        return Plan(outs)
    by = {f.name: f for f in faults}
    writes = list(outs)
    for name, spoil in _MALFORM.items():
        if name in by:
            writes = spoil(writes, by[name], protocol)
    plan = Plan((), faults=tuple(faults))
    steps: list[Step] = list(writes)
    if "drop" in by:
        steps = _drop(plan, steps, by["drop"])
    steps = _timing(steps, by)
    # Last: a delay or a stall comes before a token's first byte, not its last.
    plan.steps = _drip(steps, by["drip"]) if "drip" in by else steps
    content_type = by.get("http:content-type")
    if content_type is not None:
        plan.content_type = str(content_type.params["content-type"])
    plan.content_length = "http:content-length" in by
    return plan


# --- malformed frames -----------------------------------------------------------------------


def _target(outs: Sequence[Out], fault: Fault) -> int | None:
    wanted = fault.int("token")
    index = next((i for i, o in enumerate(outs) if o.token == wanted), None)
    if index is None:
        index = next((i for i, o in enumerate(outs) if not o.terminal), None)
    return index


def _bytes(payload: bytes | str) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


def _event(out: Out) -> SSEEvent | None:
    events, _ = decode(_bytes(out.payload))
    return events[0] if events else None


def _data(out: Out) -> str:
    if isinstance(out.payload, str):
        return out.payload
    event = _event(out)
    return "" if event is None else event.data


def _with_data(out: Out, old: str, new: str, event: tuple[str, str] | None = None) -> Out:
    if isinstance(out.payload, str):
        return Out(new, out.delay_ms, out.token, out.terminal)
    text = out.payload.decode("utf-8", "replace").replace(old, new, 1)
    if event is not None:
        text = text.replace(f"event: {event[0]}", f"event: {event[1]}", 1)
    return Out(text.encode(), out.delay_ms, out.token, out.terminal)


def _classify(protocol: ChatProtocol, out: Out, data: str) -> Msg | None:
    try:
        obj = json.loads(data)
    except ValueError:
        return None
    if isinstance(protocol, WSProtocol) and isinstance(obj, dict):
        result: Any = protocol.classify(obj, data, 0, 0.0)
    elif isinstance(protocol, SSEProtocol):
        event = _event(out)
        if event is None:
            return None
        result = protocol.classify(event._replace(data=data), 0, 0.0)
    else:
        return None
    return result if isinstance(result, Msg) else None


def _spoil_json(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    index = _target(outs, fault)
    if index is None:
        return outs
    data = _data(outs[index])
    outs[index] = _with_data(outs[index], data, data[: max(0, len(data) - 1)] or "{")
    return outs


def _spoil_field(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    index = _target(outs, fault)
    if index is None:
        return outs
    data = _data(outs[index])
    msg = _classify(protocol, outs[index], data)
    shape = protocol.spec.schemas.get(msg.type) if msg is not None else None
    if msg is None or shape is None:
        return outs
    whole = json.loads(data)
    required = [f.name for f in shape.fields if f.required and f.name in msg.body]
    candidates = [_without(whole, msg.body, name) for name in required]
    # A field whose loss keeps the message's type shows as a schema finding; deleting the
    # field that decides the type (sse-delta-done's "delta") is the fallback.
    keep = [c for c in candidates if _same_type(protocol, outs[index], c, msg.type)]
    chosen = (keep or candidates or [whole])[0]
    outs[index] = _with_data(outs[index], data, dumps_compact(chosen))
    return outs


def _without(whole: dict[str, Any], body: Any, name: str) -> dict[str, Any]:
    """``whole`` (the payload) minus ``name`` from the object the protocol classified: the
    payload itself or one of its members (an envelope's ``data``)."""
    if whole == body:
        return {k: v for k, v in whole.items() if k != name}
    return {
        k: {m: w for m, w in v.items() if m != name} if v == body and isinstance(v, dict) else v
        for k, v in whole.items()
    }


def _same_type(protocol: ChatProtocol, out: Out, body: dict[str, Any], kind: str) -> bool:
    msg = _classify(protocol, out, dumps_compact(body))
    return msg is not None and msg.type == kind


def _spoil_type(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    index = _target(outs, fault)
    if index is None:
        return outs
    data = _data(outs[index])
    msg = _classify(protocol, outs[index], data)
    if msg is None:
        return outs
    # The type is a member's value ({"type": "chunk"}) or a member's name ({"delta": …}).
    body = {
        (UNKNOWN_TYPE if key == msg.type else key): (UNKNOWN_TYPE if value == msg.type else value)
        for key, value in json.loads(data).items()
    }
    outs[index] = _with_data(outs[index], data, dumps_compact(body), (msg.type, UNKNOWN_TYPE))
    return outs


def _no_terminator(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    return [o for o in outs if not o.terminal]


def _double_terminator(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    result: list[Out] = []
    for out in outs:
        result.extend((out, out) if out.terminal else (out,))
    return result


def _after_terminator(outs: list[Out], fault: Fault, protocol: ChatProtocol) -> list[Out]:
    tokens = [o for o in outs if o.token is not None]
    extra = tokens[-1] if tokens else next((o for o in outs if not o.terminal), None)
    if extra is None:
        return outs
    return [*outs, Out(extra.payload, 0.0)]


_MALFORM: dict[str, Callable[[list[Out], Fault, ChatProtocol], list[Out]]] = {
    "malformed:json": _spoil_json,
    "malformed:missing-field": _spoil_field,
    "malformed:unknown-type": _spoil_type,
    "malformed:no-terminator": _no_terminator,
    "malformed:double-terminator": _double_terminator,
    "malformed:after-terminator": _after_terminator,
}


# --- connection and timing ---------------------------------------------------------------


def _drop(plan: Plan, steps: list[Step], fault: Fault) -> list[Step]:
    plan.drop = Drop(fault.int("code", 1011))
    if "ms" in fault.params:
        plan.deadline_ms = fault.int("ms")
    if "after" not in fault.params:
        return steps
    after = fault.int("after")
    kept = steps[:after]
    if fault.flag("mid") and after < len(steps):
        step = steps[after]
        if isinstance(step, Out):
            raw = _bytes(step.payload)
            kept.append(Out(raw[: max(1, len(raw) // 2)], step.delay_ms))
    return kept


def _drip(steps: list[Step], fault: Fault) -> list[Step]:
    size, gap = fault.int("bytes", 1), fault.int("ms")
    out: list[Step] = []
    for step in steps:
        if not isinstance(step, Out) or not isinstance(step.payload, bytes):
            out.append(step)
            continue
        raw = step.payload
        pieces = [raw[i : i + size] for i in range(0, len(raw), size)] or [raw]
        for n, piece in enumerate(pieces):
            if n and gap:
                out.append(Pause(gap))
            last = n == len(pieces) - 1
            token = step.token if last else None
            out.append(Out(piece, step.delay_ms if n == 0 else 0.0, token, step.terminal and last))
    return out


def _timing(plan_steps: list[Step], by: dict[str, Fault]) -> list[Step]:
    steps: list[Step] = []
    jitter, delay, stall = by.get("jitter"), by.get("delay"), by.get("stall")
    rng = random.Random(jitter.int("seed")) if jitter is not None else None
    writes, stalled = 0, stall is None
    for step in plan_steps:
        if isinstance(step, Out) and step.token is not None:
            if delay is not None and step.token == 0:
                steps.append(Pause(delay.int("ms")))
            if rng is not None and jitter is not None:
                steps.append(Pause(rng.uniform(0, jitter.int("ms"))))
        if stall is not None and not stalled and writes == stall.int("after", 1):
            steps.append(Pause(stall.int("ms"), stall.flag("pings")))
            stalled = True
        steps.append(step)
        writes += isinstance(step, Out)
    if stall is not None and not stalled:
        steps.append(Pause(stall.int("ms"), stall.flag("pings")))
    return steps


# --- server-wide faults ----------------------------------------------------------------


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
