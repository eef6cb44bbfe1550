"""Fault specs: one syntax for every way the mock server can misbehave on purpose.

A fault is ``NAME[:ARG,ARG…]`` where an argument is ``key=value`` or a bare flag, for example
``drop:after=5,mid``, ``stall:ms=2000,pings``, ``malformed:json``, ``http:429,retry-after=5``.
Several faults go in one string separated by ``;``. The same text is accepted in the ``fault=``
query parameter, the ``X-Streamctl-Fault`` header, a scenario's ``"faults"`` list and
``streamctl serve --fault``. :data:`FAULTS` is the table of every fault (served by
``GET /_streamctl/faults``; ``docs/faults.md`` is tested against it).

This module only parses; :mod:`streamctl.engine.fault_planning` applies faults to a reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULTS", "Fault", "FaultError", "FaultKind", "Param", "parse", "parse_many", "table"]

Value = int | str | bool


class FaultError(ValueError):
    """A fault spec that cannot be used. ``status``: 400 (not understood) or 422 (a value out
    of range or a required parameter missing); the message names the bad part."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a fault: ``int`` (with a minimum), ``flag`` or ``str``."""

    name: str
    kind: str
    description: str
    minimum: int = 0
    maximum: int | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class FaultKind:
    """A row of the fault table."""

    name: str
    description: str
    example: str
    params: tuple[Param, ...] = ()
    transports: tuple[str, ...] = ("sse", "ws")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "example": self.example,
            "transports": list(self.transports),
            "params": [
                {"name": p.name, "kind": p.kind, "description": p.description} for p in self.params
            ],
        }


@dataclass(frozen=True, slots=True)
class Fault:
    """A parsed fault: its table ``name`` and parameter values (``spec`` is the text)."""

    name: str
    params: Mapping[str, Value] = field(default_factory=dict)
    spec: str = ""

    def int(self, key: str, default: int = 0) -> int:
        value = self.params.get(key, default)
        return value if isinstance(value, int) else default

    def flag(self, key: str) -> bool:
        return self.params.get(key) is True


_AFTER = Param("after", "int", "writes (events or messages) sent before the fault")
_MS = Param("ms", "int", "milliseconds", required=True)
_TOKEN = Param("token", "int", "which token write to spoil (default 0, the first)")
_HTTP_STATUSES = (400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504)

FAULTS: tuple[FaultKind, ...] = (
    FaultKind(
        "drop",
        "Close the connection after `after` writes or `ms` milliseconds. SSE: the body ends "
        "without its final chunk (`mid`: halfway through the next event). WebSocket: a close "
        "frame with `code` (default 1011).",
        "drop:after=5",
        (
            _AFTER,
            Param("ms", "int", "milliseconds after the response started"),
            Param("mid", "flag", "SSE: send the first half of the next event first"),
            Param("code", "int", "WebSocket close code", minimum=1000, maximum=4999),
        ),
    ),
    FaultKind(
        "stall",
        "After `after` writes (default 1), send nothing for `ms` (with `pings`: the protocol's "
        "heartbeat, or an SSE comment, keeps coming), then go on.",
        "stall:ms=2000,pings",
        (_MS, _AFTER, Param("pings", "flag", "keep sending heartbeats while stalled")),
    ),
    FaultKind(
        "drip",
        "Send the body in chunks of `bytes` bytes, `ms` apart: SSE lines and multi-byte UTF-8 "
        "characters are split across chunks.",
        "drip:bytes=1",
        (
            Param("bytes", "int", "chunk size (default 1)", minimum=1),
            Param("ms", "int", "pause between chunks (default 0)"),
        ),
        ("sse",),
    ),
    FaultKind(
        "malformed:json",
        "One write's JSON is cut short (invalid JSON).",
        "malformed:json",
        (_TOKEN,),
    ),
    FaultKind(
        "malformed:missing-field",
        "One write loses a field its message type requires (chosen from the protocol's schema).",
        "malformed:missing-field",
        (_TOKEN,),
    ),
    FaultKind(
        "malformed:unknown-type",
        "One write's message type is replaced by one the protocol does not define.",
        "malformed:unknown-type",
        (_TOKEN,),
    ),
    FaultKind(
        "malformed:no-terminator",
        "The reply ends without its terminator (the connection still ends normally).",
        "malformed:no-terminator",
    ),
    FaultKind(
        "malformed:double-terminator",
        "The terminator is sent twice.",
        "malformed:double-terminator",
    ),
    FaultKind(
        "malformed:after-terminator",
        "A token is sent again after the terminator.",
        "malformed:after-terminator",
    ),
    FaultKind(
        "http:STATUS",
        'Answer with this status before the stream (JSON `{"detail"}` body); for a WebSocket '
        f"the upgrade is refused with it. STATUS is one of {', '.join(map(str, _HTTP_STATUSES))}.",
        "http:429,retry-after=5",
        (Param("retry-after", "int", "seconds, sent as Retry-After"),),
    ),
    FaultKind(
        "http:content-type",
        "Stream with this Content-Type instead of the protocol's.",
        "http:content-type=application/json",
        (Param("content-type", "str", "the media type", required=True),),
        ("sse",),
    ),
    FaultKind(
        "http:content-length",
        "Add a Content-Length header (the exact body length) to the event stream.",
        "http:content-length",
        transports=("sse",),
    ),
    FaultKind(
        "delay",
        "Wait `ms` before the first token (on top of the script's own delay).",
        "delay:ms=500",
        (_MS,),
    ),
    FaultKind(
        "jitter",
        "Wait a random 0..`ms` before every token, from a generator seeded with `seed`.",
        "jitter:ms=50,seed=7",
        (_MS, Param("seed", "int", "random seed (default 0)")),
    ),
)

_BY_NAME = {kind.name: kind for kind in FAULTS}


def table() -> list[dict[str, Any]]:
    """The fault table as JSON-ready rows."""
    return [kind.as_dict() for kind in FAULTS]


def parse_many(texts: Iterable[str]) -> tuple[Fault, ...]:
    """Every fault in ``texts`` (each may hold several separated by ``;``)."""
    return tuple(parse(part.strip()) for text in texts for part in text.split(";") if part.strip())


def parse(text: str) -> Fault:
    """One fault spec, or :class:`FaultError` naming the bad part."""
    head, _, rest = text.strip().partition(":")
    args = [a.strip() for a in rest.split(",")] if rest.strip() else []
    if head in ("malformed", "http"):
        if not args:
            raise FaultError(f"fault {text!r}: {head!r} needs a variant, e.g. {head}:…")
        name, extra = _variant(head, args[0], text)
        args = [*extra, *args[1:]]
    else:
        name = head
    kind = _BY_NAME.get(name)
    if kind is None:
        known = ", ".join(k.name for k in FAULTS)
        raise FaultError(f"fault {text!r}: unknown fault {name!r} (known: {known})")
    params = dict(_args(kind, args, text))
    if name == "http:STATUS":
        params["status"] = int(rest.split(",")[0])
    missing = [p.name for p in kind.params if p.required and p.name not in params]
    if missing:
        raise FaultError(f"fault {text!r}: {name} needs {missing[0]}=…", 422)
    if name == "drop" and "after" not in params and "ms" not in params:
        raise FaultError(f"fault {text!r}: drop needs after=N or ms=T", 422)
    return Fault(name, params, text.strip())


def _variant(head: str, first: str, text: str) -> tuple[str, list[str]]:
    if head == "malformed":
        return f"malformed:{first}", []
    if first.isdigit():
        if int(first) not in _HTTP_STATUSES:
            statuses = ", ".join(map(str, _HTTP_STATUSES))
            raise FaultError(f"fault {text!r}: status {first} is not one of {statuses}", 422)
        return "http:STATUS", []
    key = first.partition("=")[0]
    return f"http:{key}", [first] if "=" in first else []


def _args(kind: FaultKind, args: list[str], text: str) -> Iterable[tuple[str, Value]]:
    params = {p.name: p for p in kind.params}
    for arg in args:
        key, eq, raw = arg.partition("=")
        param = params.get(key)
        if param is None:
            known = ", ".join(params) or "none"
            raise FaultError(
                f"fault {text!r}: unknown parameter {key!r} for {kind.name} (known: {known})"
            )
        yield key, _value(param, raw if eq else None, text)


def _value(param: Param, raw: str | None, text: str) -> Value:
    if param.kind == "flag":
        if raw is not None:
            raise FaultError(f"fault {text!r}: {param.name} is a flag and takes no value")
        return True
    if raw is None or raw == "":
        raise FaultError(f"fault {text!r}: {param.name} needs a value ({param.name}=…)")
    if param.kind == "str":
        return raw
    if not raw.isdigit():
        raise FaultError(f"fault {text!r}: {param.name}={raw!r} is not a whole number", 422)
    number = int(raw)
    if number < param.minimum or (param.maximum is not None and number > param.maximum):
        top = "" if param.maximum is None else f" and at most {param.maximum}"
        raise FaultError(f"fault {text!r}: {param.name} must be at least {param.minimum}{top}", 422)
    return number
