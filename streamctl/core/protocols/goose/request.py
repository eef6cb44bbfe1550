"""goosed's ``/reply`` request bodies as axum and serde see them: the same refusals, in the same
words, at the same line and column.

axum's ``Json`` extractor checks the content type (415), buffers the body (413 over the limit),
parses it (400) and deserializes it into the handler's struct (422), in that order
(goose-protocol.md §5, §2). The texts are axum's and serde_json's; positions count bytes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from streamctl.core.jsontext import utf8_error
from streamctl.core.protocols.exchange import HttpResponse
from streamctl.core.protocols.goose.refusals import (
    DEPTH_LIMIT,
    position,
    span,
    syntax_error,
    too_deep,
)

__all__ = [
    "DEPTH_LIMIT",
    "ITEMS_B",
    "ITEMS_E",
    "REQUEST_B",
    "REQUEST_E",
    "Body",
    "deserialize",
    "read_json",
]

NOT_JSON = "Expected request with `Content-Type: application/json`"
#: "Request-body size limit for /reply: axum default (2 MB) until ≈v1.3, then 50 MiB".
BODY_LIMIT = 50 * 1024 * 1024
_SYNTAX = "Failed to parse the request body as JSON: "
_SHAPE = "Failed to deserialize the JSON body into the target type: "
_RAW = msgspec.json.Decoder(msgspec.Raw)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Body:
    """A request body that is valid JSON: its bytes (nothing of it is decoded yet)."""

    data: bytes


def _is_json(content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    kind, _, subtype = mime.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def read_json(content_type: str | None, body: bytes) -> Body | HttpResponse:
    """The body, known to be JSON, or axum's refusal (415, 413 or 400) as goosed sends it.

    Linear in the body's size and without a copy of it: UTF-8, nesting and syntax are checked
    in C over the bytes (msgspec validates JSON without building it); only a refused body is
    read again, to say where it went wrong."""
    if not _is_json(content_type):
        return HttpResponse.text(415, NOT_JSON)
    if len(body) > BODY_LIMIT:
        return HttpResponse.text(413, "Failed to buffer the request body: length limit exceeded")
    bad = utf8_error(body)
    if bad is not None:
        where = position(body, bad + 1)
        return HttpResponse.text(400, f"{_SYNTAX}invalid unicode code point {where}")
    deep = too_deep(body)
    if deep is not None:
        return HttpResponse.text(400, f"{_SYNTAX}recursion limit exceeded {position(body, deep)}")
    try:
        _RAW.decode(body)
    except msgspec.DecodeError as exc:
        return HttpResponse.text(400, _SYNTAX + syntax_error(body, str(exc)))
    return Body(body)


# --- deserializing, serde style --------------------------------------------------------------

Steps = tuple[str | int, ...]
Raw = msgspec.Raw | bytes


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    message: str
    steps: Steps  # the keys and indexes from the root to the value
    at_end: bool  # serde had read the whole value when it gave up (else only peeked at it)


def _unexpected(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    names = {type(None): "null", list: "sequence", dict: "map"}
    return names[type(value)]


def _opener(raw: Raw) -> bytes:
    return bytes(memoryview(raw)[:1])


def _scalar(raw: Raw) -> Any:
    """A scalar's value; a container is not decoded (its kind is all a refusal names)."""
    opener = _opener(raw)
    if opener in (b"[", b"{"):
        return [] if opener == b"[" else {}
    return _ANY.decode(raw)


def _invalid(value: Any, path: str, steps: Steps, expected: str) -> _Problem:
    # serde_json has read a scalar before it complains, but only peeked at a container.
    words = f"invalid type: {_unexpected(value)}, expected {expected}"
    return _Problem(path, words, steps, not isinstance(value, list | dict))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Kind(ABC):
    @abstractmethod
    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        """``raw`` deserialized into this type (unknown fields skipped, never decoded), or the
        :class:`_Problem` that stops it (``root``: the whole body, to order problems)."""


@dataclass(frozen=True)
class _Scalar(_Kind):
    expected: str
    accepts: Callable[[Any], bool]

    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        value = _scalar(raw)
        return value if self.accepts(value) else _invalid(value, path, steps, self.expected)


@dataclass(frozen=True)
class _Option(_Kind):
    inner: _Kind

    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        return None if _opener(raw) == b"n" else self.inner.read(raw, path, steps, root)


@dataclass(frozen=True)
class _Role(_Kind):
    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        value = _scalar(raw)
        if not isinstance(value, str):
            return _invalid(value, path, steps, "enum Role")
        if value in ("user", "assistant"):
            return value
        words = f"unknown variant `{value}`, expected `user` or `assistant`"
        return _Problem(path, words, steps, True)


@dataclass(frozen=True)
class _Seq(_Kind):
    item: _Kind

    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        if _opener(raw) != b"[":
            return _invalid(_scalar(raw), path, steps, "a sequence")
        values = []
        for index, item in enumerate(_ITEMS.decode(raw)):
            value = self.item.read(item, f"{path}[{index}]", (*steps, index), root)
            if isinstance(value, _Problem):
                return value
            values.append(value)
        return values


@dataclass(frozen=True)
class _Struct(_Kind):
    """A struct: its known fields are cut out of the object in C (msgspec skips the others
    without decoding them), then read one by one."""

    name: str
    fields: tuple[tuple[str, _Kind, bool], ...]  # name, type, required
    _decoder: msgspec.json.Decoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        members = [(name, msgspec.Raw, msgspec.UNSET) for name, _, _ in self.fields]
        cut = msgspec.defstruct(self.name, members, forbid_unknown_fields=False)
        object.__setattr__(self, "_decoder", msgspec.json.Decoder(cut))

    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        if _opener(raw) != b"{":
            return _invalid(_scalar(raw), path, steps, f"struct {self.name}")
        cut = self._decoder.decode(raw)
        values: dict[str, Any] = {}
        problems: list[_Problem] = []
        for name, kind, _ in self.fields:
            member = getattr(cut, name)
            if member is msgspec.UNSET:
                continue
            value = kind.read(member, _join(path, name), (*steps, name), root)
            if isinstance(value, _Problem):
                problems.append(value)
            else:
                values[name] = value
        if problems:
            # serde reads members in document order and stops at the first problem.
            return min(problems, key=lambda problem: span(root, problem.steps)[0])
        for name, _, required in self.fields:
            if required and name not in values:
                return _Problem(path, f"missing field `{name}`", steps, True)
        return values


@dataclass(frozen=True)
class _Content(_Kind):
    """MessageContent, an internally tagged enum. serde buffers the whole item before it looks
    at the tag, so every problem is reported at the item's end, without a deeper path."""

    variants: tuple[str, ...]

    def read(self, raw: Raw, path: str, steps: Steps, root: bytes) -> Any:
        if _opener(raw) != b"{":
            return _invalid(_scalar(raw), path, steps, "internally tagged enum MessageContent")
        value = _ANY.decode(raw)
        tag = value.get("type")
        if tag is None:
            return _Problem(path, "missing field `type`", steps, True)
        if tag not in self.variants:
            expected = ", ".join(f"`{v}`" for v in self.variants)
            words = f"unknown variant `{tag}`, expected one of {expected}"
            return _Problem(path, words, steps, True)
        if tag != "text" or isinstance(value.get("text"), str):
            return value
        if "text" not in value:
            return _Problem(path, "missing field `text`", steps, True)
        words = f"invalid type: {_unexpected(value['text'])}, expected a string"
        return _Problem(path, words, steps, True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_STR = _Scalar("a string", lambda v: isinstance(v, str))
_OPT_STR = _Option(_STR)
_I64 = _Scalar("i64", _is_int)
_BOOL = _Scalar("a boolean", lambda v: isinstance(v, bool))
_COMMON_ITEMS = ("text", "image", "toolRequest", "toolResponse", "toolConfirmationRequest")
ITEMS_B = (
    *_COMMON_ITEMS,
    "frontendToolRequest",
    "thinking",
    "redactedThinking",
    "contextLengthExceeded",
    "summarizationRequested",
)
ITEMS_E = (
    *_COMMON_ITEMS,
    "actionRequired",
    "frontendToolRequest",
    "thinking",
    "redactedThinking",
    "systemNotification",
)

# §5.1: in era B a Message has no metadata, "id optional", "created … optional (defaults to 0)".
_MESSAGE_B = _Struct(
    "Message",
    (
        ("id", _OPT_STR, False),
        ("role", _Role(), True),
        ("created", _I64, False),
        ("content", _Seq(_Content(ITEMS_B)), True),
    ),
)
# §5.2: "each Message must have role, created, content and metadata".
_METADATA = _Struct(
    "MessageMetadata", (("userVisible", _BOOL, False), ("agentVisible", _BOOL, False))
)
_MESSAGE_E = _Struct(
    "Message",
    (
        ("id", _OPT_STR, False),
        ("role", _Role(), True),
        ("created", _I64, True),
        ("content", _Seq(_Content(ITEMS_E)), True),
        ("metadata", _METADATA, True),
    ),
)
#: §5.1: the era-B body (``session_working_dir`` required from v1.0.13).
REQUEST_B = _Struct(
    "ChatRequest",
    (
        ("messages", _Seq(_MESSAGE_B), True),
        ("session_id", _OPT_STR, False),
        ("session_working_dir", _STR, True),
        ("scheduled_job_id", _OPT_STR, False),
        ("recipe_name", _OPT_STR, False),
        ("recipe_version", _OPT_STR, False),
    ),
)
#: §5.3: the v1.18+ body.
REQUEST_E = _Struct(
    "ChatRequest",
    (
        ("user_message", _MESSAGE_E, True),
        ("conversation_so_far", _Option(_Seq(_MESSAGE_E)), False),
        ("override_conversation", _Option(_Seq(_MESSAGE_E)), False),
        ("session_id", _STR, True),
        ("recipe_name", _OPT_STR, False),
        ("recipe_version", _OPT_STR, False),
    ),
)


def deserialize(body: Body, kind: _Kind) -> HttpResponse | dict[str, Any]:
    """The request's known fields as ``kind`` reads them (the others are never decoded), or
    axum's 422 when the body does not deserialize into ``kind``."""
    value = kind.read(body.data, "", (), body.data)
    if not isinstance(value, _Problem):
        return dict(value)
    path = f"{value.path}: " if value.path else ""
    start, end = span(body.data, value.steps)
    where = position(body.data, end if value.at_end else start)
    return HttpResponse.text(422, f"{_SHAPE}{path}{value.message} {where}")
