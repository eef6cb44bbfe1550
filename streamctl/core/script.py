"""Protocol-neutral reply scripts: what the mock says, not how a protocol frames it.

A :class:`Script` is one assistant reply: tokens with per-token delays, an optional tool call and
an optional error. Every protocol module renders any script into its own frames, so one scenario
file drives all six protocols.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FailurePoint",
    "HoldPoint",
    "Script",
    "ScriptFormatError",
    "Token",
    "ToolCall",
    "default_reply",
    "from_text",
    "script_from_dict",
    "tokenize",
]

#: What a script's error can be.
ERROR_KINDS = ("error", "context_exceeded")

_TOKEN = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True, slots=True)
class Token:
    """One token and the time to wait before sending it."""

    text: str
    delay_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool round: the assistant calls ``name`` after ``after`` tokens.

    ``output`` is what the tool answers; ``id`` names the call.
    """

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    output: str = ""
    after: int = 0
    id: str = "call_1"


@dataclass(frozen=True, slots=True)
class FailurePoint:
    """The reply fails with ``message`` after ``after`` tokens (0: before the reply starts).

    Data, not an exception: the protocol renders it as its own error message (``Script.error``).
    """

    message: str
    after: int = 0
    #: ``context_exceeded``: the model's context is full (goose-web has a message of its own
    #: for it; the other protocols send it as their error).
    kind: str = "error"


@dataclass(frozen=True, slots=True)
class HoldPoint:
    """The reply stops after ``after`` tokens, until a test releases it (``{"hold": NAME}`` in
    a scenario's ``tokens``; see docs/scenarios.md)."""

    name: str
    after: int


@dataclass(frozen=True, slots=True)
class Script:
    tokens: tuple[Token, ...]
    tool: ToolCall | None = None
    error: FailurePoint | None = None
    #: The model's reasoning before its reply (goose-web sends it as ``thinking``; the other
    #: protocols have no message for it).
    thinking: str = ""
    #: Where the reply is held, in token order.
    holds: tuple[HoldPoint, ...] = ()

    @property
    def sent_tokens(self) -> tuple[Token, ...]:
        """The tokens actually sent (an error cuts the reply short)."""
        return self.tokens if self.error is None else self.tokens[: self.error.after]

    @property
    def text(self) -> str:
        """The assistant text a client should reassemble."""
        return "".join(t.text for t in self.sent_tokens)


def tokenize(text: str) -> tuple[str, ...]:
    """Split text into word-sized tokens that concatenate back to it exactly."""
    tokens = tuple(_TOKEN.findall(text))
    assert "".join(tokens) == text
    return tokens


def from_text(text: str, delay_ms: float = 0.0, first_delay_ms: float | None = None) -> Script:
    """A script that streams ``text`` word by word, ``delay_ms`` apart."""
    pieces = tokenize(text)
    first = delay_ms if first_delay_ms is None else first_delay_ms
    return Script(tuple(Token(p, first if i == 0 else delay_ms) for i, p in enumerate(pieces)))


def default_reply(user_text: str, delay_ms: float = 0.0) -> Script:
    """The reply the mock gives with no scenario configured: deterministic, derived from input.

    It echoes the message so a person can see their request arrived intact, and it is long
    enough to stream as several tokens.
    """
    words = len(user_text.split())
    quoted = " ".join(user_text.split())
    if len(quoted) > 200:
        quoted = quoted[:199] + "…"
    text = (
        f'You said: "{quoted}" ({words} word{"s" if words != 1 else ""}). '
        "This is a scripted reply from the streamctl mock server, streamed token by token."
    )
    return from_text(text, delay_ms)


class ScriptFormatError(ValueError):
    """A scenario's reply definition that cannot be used; the message says what to fix."""


def _number(obj: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = obj.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ScriptFormatError(f"{where}: {key!r} must be a non-negative number")
    return float(value)


def _after(obj: Mapping[str, Any], tokens: int, default: int, where: str) -> int:
    value = obj.get("after", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= tokens:
        raise ScriptFormatError(
            f"{where}: 'after' must be a whole number of tokens from 0 to {tokens}"
        )
    return value


def _tokens(obj: Mapping[str, Any], where: str) -> tuple[tuple[Token, ...], tuple[HoldPoint, ...]]:
    """The tokens, and the holds among them."""
    delay = _number(obj, "delay_ms", 0.0, where)
    first = _number(obj, "first_delay_ms", delay, where)
    if "tokens" in obj:
        raw = obj["tokens"]
        if not isinstance(raw, list):
            raise ScriptFormatError(f"{where}: 'tokens' must be a list")
        tokens: list[Token] = []
        holds: list[HoldPoint] = []
        for i, item in enumerate(raw):
            if isinstance(item, dict) and "hold" in item:
                holds.append(_hold(item, len(tokens), f"{where}.tokens[{i}]"))
            else:
                tokens.append(_token(item, delay if tokens else first, f"{where}.tokens[{i}]"))
        return tuple(tokens), tuple(holds)
    text = obj.get("reply")
    if not isinstance(text, str):
        raise ScriptFormatError(f"{where}: give the reply as 'reply' (text) or 'tokens' (list)")
    return from_text(text, delay, first).tokens, ()


def _hold(item: Mapping[str, Any], after: int, where: str) -> HoldPoint:
    name = item["hold"]
    if set(item) != {"hold"} or not isinstance(name, str) or not name:
        raise ScriptFormatError(f"{where}: a hold is {{'hold': NAME}}, NAME a non-empty string")
    return HoldPoint(name, after)


def _token(item: Any, default: float, where: str) -> Token:
    if isinstance(item, str):
        return Token(item, default)
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return Token(item["text"], _number(item, "delay_ms", default, where))
    raise ScriptFormatError(f"{where}: a token is a string or {{'text': ..., 'delay_ms': ...}}")


def script_from_dict(obj: Mapping[str, Any], where: str = "script") -> Script:
    """Build a script from its JSON form (see ``fixtures/README.md``)."""
    tokens, holds = _tokens(obj, where)
    tool = None
    if obj.get("tool") is not None:
        spec = obj["tool"]
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ScriptFormatError(f"{where}.tool: needs at least a 'name'")
        arguments = spec.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ScriptFormatError(f"{where}.tool: 'arguments' must be an object")
        call_id = spec.get("id", "call_1")
        if not isinstance(call_id, str) or not call_id:
            raise ScriptFormatError(f"{where}.tool: 'id' must be a non-empty string")
        output = spec.get("output", "")
        tool = ToolCall(
            name=spec["name"],
            arguments=arguments,
            # A tool's output is text; structured output is given to the model as JSON.
            output=output if isinstance(output, str) else json.dumps(output, ensure_ascii=False),
            after=_after(spec, len(tokens), len(tokens), f"{where}.tool"),
            id=call_id,
        )
    thinking = obj.get("thinking", "")
    if not isinstance(thinking, str):
        raise ScriptFormatError(f"{where}: 'thinking' must be text")
    return Script(tokens, tool, _error(obj, len(tokens), where), thinking, holds)


def _error(obj: Mapping[str, Any], tokens: int, where: str) -> FailurePoint | None:
    if obj.get("error") is None:
        return None
    spec = obj["error"]
    if isinstance(spec, str):
        spec = {"message": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("message"), str):
        raise ScriptFormatError(f"{where}.error: needs a 'message'")
    kind = spec.get("kind", "error")
    if kind not in ERROR_KINDS:
        raise ScriptFormatError(f"{where}.error: 'kind' must be one of {', '.join(ERROR_KINDS)}")
    return FailurePoint(spec["message"], _after(spec, tokens, 0, f"{where}.error"), kind)
