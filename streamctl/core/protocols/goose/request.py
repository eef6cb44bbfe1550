"""goosed's ``/reply`` request bodies as axum and serde see them: the same refusals, in the same
words, at the same line and column.

axum's ``Json`` extractor checks the content type (415), buffers the body (413 over the limit),
parses it (400) and deserializes it into the handler's struct (422), in that order
(goose-protocol.md §5, §2). The texts are axum's and serde_json's; positions count bytes.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamctl.core.protocols.base import HttpResponse

__all__ = ["REQUEST_B", "REQUEST_E", "Body", "Node", "deserialize", "read_json"]

NOT_JSON = "Expected request with `Content-Type: application/json`"
#: "Request-body size limit for /reply: axum default (2 MB) until ≈v1.3, then 50 MiB".
BODY_LIMIT = 50 * 1024 * 1024
#: serde_json refuses input nested deeper than this.
DEPTH_LIMIT = 128
_SYNTAX = "Failed to parse the request body as JSON: "
_SHAPE = "Failed to deserialize the JSON body into the target type: "

_WS = re.compile(r"[ \t\n\r]*")
_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_DECODER = json.JSONDecoder()
# Python's json messages -> serde_json's.
_SERDE_WORDS = {
    "Expecting value": "expected value",
    "Extra data": "trailing characters",
    "Expecting property name enclosed in double quotes": "key must be a string",
    "Expecting ':' delimiter": "expected `:`",
    "Expecting ',' delimiter": "expected `,` or `}`",
    "Invalid control character at": "control character (\\u0000-\\u001F) found while parsing a "
    "string",
}


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value with where it ends in the text; objects keep their members in order."""

    value: Any
    start: int
    end: int
    members: tuple[tuple[str, Node], ...] = ()
    items: tuple[Node, ...] = ()


@dataclass(frozen=True, slots=True)
class Body:
    """A request body that is valid JSON: its text and its tree."""

    text: str
    root: Node


def _byte_position(data: bytes, at: int) -> str:
    line = data.count(b"\n", 0, at) + 1
    column = at - (data.rfind(b"\n", 0, at) + 1)
    return f"at line {line} column {column}"


def _position(text: str, at: int) -> str:
    """serde_json's "at line L column C" after it has read ``text[:at]`` (C counts bytes)."""
    read = text[:at].encode()
    return _byte_position(read, len(read))


def _is_json(content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    kind, _, subtype = mime.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def read_json(content_type: str | None, body: bytes) -> Body | HttpResponse:
    """The body as a JSON tree, or axum's refusal (415, 413 or 400) as goosed sends it."""
    if not _is_json(content_type):
        return HttpResponse.text(415, NOT_JSON)
    if len(body) > BODY_LIMIT:
        return HttpResponse.text(413, "Failed to buffer the request body: length limit exceeded")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = _byte_position(body, exc.start + 1)
        return HttpResponse.text(400, f"{_SYNTAX}invalid unicode code point {where}")
    deep = _too_deep(text)
    if deep is not None:
        return HttpResponse.text(400, f"{_SYNTAX}recursion limit exceeded {_position(text, deep)}")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return HttpResponse.text(400, _SYNTAX + _syntax_error(text, exc))
    return Body(text, _node(text, 0))


def _too_deep(text: str) -> int | None:
    depth = 0
    for match in _NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > DEPTH_LIMIT:
                return match.end()
        elif token in "]}":
            depth -= 1
    return None


def _syntax_error(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
        return f"EOF while parsing a value {_position(text, len(text))}"
    if text[exc.pos] in "]}" and text[: exc.pos].rstrip().endswith(","):
        words = "trailing comma"
    else:
        words = _SERDE_WORDS.get(exc.msg, exc.msg)
    return f"{words} {_position(text, exc.pos + 1)}"


# --- a JSON tree with positions (the text is known to be valid JSON) -----------------------


def _skip(text: str, at: int) -> int:
    match = _WS.match(text, at)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _node(text: str, at: int) -> Node:
    start = _skip(text, at)
    if text[start] == "{":
        return _object(text, start)
    if text[start] == "[":
        return _array(text, start)
    value, end = _DECODER.raw_decode(text, start)
    return Node(value, start, end)


def _object(text: str, start: int) -> Node:
    members: list[tuple[str, Node]] = []
    at = _skip(text, start + 1)
    while text[at] != "}":
        key, at = _DECODER.raw_decode(text, at)
        value = _node(text, _skip(text, at) + 1)  # past the ':'
        members.append((key, value))
        at = _skip(text, value.end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    value_of = {key: node.value for key, node in members}
    return Node(value_of, start, at + 1, members=tuple(members))


def _array(text: str, start: int) -> Node:
    items: list[Node] = []
    at = _skip(text, start + 1)
    while text[at] != "]":
        item = _node(text, at)
        items.append(item)
        at = _skip(text, item.end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    return Node([i.value for i in items], start, at + 1, items=tuple(items))


# --- deserializing, serde style --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    message: str
    at: int  # how much of the text serde had read when it gave up


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


def _invalid(node: Node, path: str, expected: str) -> _Problem:
    # serde_json has read a scalar before it complains, but only peeked at a container.
    at = node.start if isinstance(node.value, list | dict) else node.end
    return _Problem(path, f"invalid type: {_unexpected(node.value)}, expected {expected}", at)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Kind(ABC):
    @abstractmethod
    def check(self, node: Node, path: str) -> _Problem | None:
        """Why ``node`` does not deserialize into this type, or ``None``."""


@dataclass(frozen=True)
class _Scalar(_Kind):
    expected: str
    accepts: Callable[[Any], bool]

    def check(self, node: Node, path: str) -> _Problem | None:
        return None if self.accepts(node.value) else _invalid(node, path, self.expected)


@dataclass(frozen=True)
class _Option(_Kind):
    inner: _Kind

    def check(self, node: Node, path: str) -> _Problem | None:
        return None if node.value is None else self.inner.check(node, path)


@dataclass(frozen=True)
class _Role(_Kind):
    def check(self, node: Node, path: str) -> _Problem | None:
        if not isinstance(node.value, str):
            return _invalid(node, path, "enum Role")
        if node.value in ("user", "assistant"):
            return None
        words = f"unknown variant `{node.value}`, expected `user` or `assistant`"
        return _Problem(path, words, node.end)


@dataclass(frozen=True)
class _Seq(_Kind):
    item: _Kind

    def check(self, node: Node, path: str) -> _Problem | None:
        if not isinstance(node.value, list):
            return _invalid(node, path, "a sequence")
        for index, item in enumerate(node.items):
            problem = self.item.check(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None


@dataclass(frozen=True)
class _Struct(_Kind):
    name: str
    fields: tuple[tuple[str, _Kind, bool], ...]  # name, type, required

    def check(self, node: Node, path: str) -> _Problem | None:
        if not isinstance(node.value, dict):
            return _invalid(node, path, f"struct {self.name}")
        kinds = {name: kind for name, kind, _ in self.fields}
        for key, member in node.members:  # serde reads members in document order
            kind = kinds.get(key)  # unknown members are ignored
            problem = None if kind is None else kind.check(member, _join(path, key))
            if problem is not None:
                return problem
        for name, _, required in self.fields:
            if required and name not in node.value:
                return _Problem(path, f"missing field `{name}`", node.end)
        return None


@dataclass(frozen=True)
class _Content(_Kind):
    """MessageContent, an internally tagged enum. serde buffers the whole item before it looks
    at the tag, so every problem is reported at the item's end, without a deeper path."""

    variants: tuple[str, ...]

    def check(self, node: Node, path: str) -> _Problem | None:
        item = node.value
        if not isinstance(item, dict):
            return _invalid(node, path, "internally tagged enum MessageContent")
        tag = item.get("type")
        if tag is None:
            return _Problem(path, "missing field `type`", node.end)
        if tag not in self.variants:
            expected = ", ".join(f"`{v}`" for v in self.variants)
            return _Problem(path, f"unknown variant `{tag}`, expected one of {expected}", node.end)
        if tag != "text" or isinstance(item.get("text"), str):
            return None
        if "text" not in item:
            return _Problem(path, "missing field `text`", node.end)
        words = f"invalid type: {_unexpected(item['text'])}, expected a string"
        return _Problem(path, words, node.end)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_STR = _Scalar("a string", lambda v: isinstance(v, str))
_OPT_STR = _Option(_STR)
_I64 = _Scalar("i64", _is_int)
_BOOL = _Scalar("a boolean", lambda v: isinstance(v, bool))
_COMMON_ITEMS = ("text", "image", "toolRequest", "toolResponse", "toolConfirmationRequest")
_ITEMS_B = (
    *_COMMON_ITEMS,
    "frontendToolRequest",
    "thinking",
    "redactedThinking",
    "contextLengthExceeded",
    "summarizationRequested",
)
_ITEMS_E = (
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
        ("content", _Seq(_Content(_ITEMS_B)), True),
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
        ("content", _Seq(_Content(_ITEMS_E)), True),
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


def deserialize(body: Body, kind: _Kind) -> HttpResponse | None:
    """axum's 422 when ``body`` does not deserialize into ``kind``, else ``None``."""
    problem = kind.check(body.root, "")
    if problem is None:
        return None
    path = f"{problem.path}: " if problem.path else ""
    where = _position(body.text, problem.at)
    return HttpResponse.text(422, f"{_SHAPE}{path}{problem.message} {where}")
