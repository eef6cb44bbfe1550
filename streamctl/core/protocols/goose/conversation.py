"""A goose conversation read and kept compactly: one small object per message, not a tree.

Every era-B ``/reply`` carries the whole conversation, up to 50 MiB (era E: its
``conversation_so_far`` or ``override_conversation``). Read into dicts and lists,
a body of many tiny messages cost 13 to 20 times its size: 50 MiB of two-letter messages took
the server up by 1.2 GB for 17 s (the serde-style reader of :mod:`.request` builds a path, a
struct and a dict per value, and the history then copied every message). Here a body that
deserializes is read by msgspec into typed structs, in C, one message at a time, and each
message is kept as its stored JSON (goosed's ``.jsonl`` line: ``id``, ``role``, ``created``,
``content``, in era E ``metadata``) as a :class:`StoredMessage`: about 130 bytes for a short
message, where its dicts took 650. It is a read-only mapping, decoded again when someone reads
it (rarely: the session answer writes the JSON as it is).

Any body this reader does not take (a wrong type anywhere, a missing field) goes to
:func:`.request.deserialize`, which finds the first problem and words it as serde does; so
this reader only ever has to accept what that one accepts, never to explain a refusal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, Union

import msgspec

from streamctl.core.jsontext import RawJSON
from streamctl.core.protocols.goose.request import ITEMS_B, ITEMS_E, Body

__all__ = ["StoredMessage", "read"]

_DICT = msgspec.json.Decoder(dict[str, Any])
_ENCODE = msgspec.json.Encoder()


class StoredMessage(RawJSON, Mapping[str, Any], bytes):
    """One stored message: the bytes of its JSON text, read as the mapping it stands for.

    A bytes object of its own, not an object holding one: no garbage-collector header and no
    second object per message (56 bytes each, 43 MB for 770,000 messages). ``role`` and
    ``has_text`` (any text item), which every request asks of every message, are the class's:
    there is one subclass per combination (:func:`_kind`)."""

    __slots__ = ()
    role: str = "user"
    has_text: bool = False

    @property
    def raw_json(self) -> bytes:  # type: ignore[override]
        return bytes(self)

    def __getitem__(self, key: str) -> Any:  # type: ignore[override]
        return self.role if key == "role" else _DICT.decode(self)[key]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(_DICT.decode(self))

    def __len__(self) -> int:
        return len(_DICT.decode(self))

    def __repr__(self) -> str:
        return f"StoredMessage({bytes(self)!r})"


_KINDS = {
    (role, has_text): type(
        f"StoredMessage_{role}{'_text' if has_text else ''}",
        (StoredMessage,),
        {"__slots__": (), "role": role, "has_text": has_text},
    )
    for role in ("user", "assistant")
    for has_text in (False, True)
}


class _Item(msgspec.Struct, tag_field="type"):
    """A content item whose fields nobody reads: only its tag is checked."""


class _Text(_Item, tag="text"):
    text: str


def _content(variants: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    others = tuple(
        msgspec.defstruct(f"_Item_{tag}", [], bases=(_Item,), tag=tag)
        for tag in variants
        if tag != "text"
    )
    return msgspec.json.Decoder(list[Union[_Text, *others]])  # type: ignore[valid-type]


class _Message(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: msgspec.Raw
    id: str | None = None
    created: int = 0


class _Metadata(msgspec.Struct, omit_defaults=True):
    userVisible: bool | msgspec.UnsetType = msgspec.UNSET
    agentVisible: bool | msgspec.UnsetType = msgspec.UNSET


class _MessageE(msgspec.Struct):
    role: Literal["user", "assistant"]
    created: int
    content: msgspec.Raw
    metadata: _Metadata
    id: str | None = None


class _Request(msgspec.Struct):
    messages: list[msgspec.Raw]
    session_working_dir: str
    session_id: str | None = None
    scheduled_job_id: str | None = None
    recipe_name: str | None = None
    recipe_version: str | None = None


class _RequestE(msgspec.Struct):
    user_message: msgspec.Raw
    session_id: str
    conversation_so_far: list[msgspec.Raw] | None = None
    override_conversation: list[msgspec.Raw] | None = None
    recipe_name: str | None = None
    recipe_version: str | None = None


_REQUEST: dict[bool, msgspec.json.Decoder[Any]] = {
    False: msgspec.json.Decoder(_Request),
    True: msgspec.json.Decoder(_RequestE),
}
_MESSAGE: dict[bool, msgspec.json.Decoder[Any]] = {
    False: msgspec.json.Decoder(_Message),
    True: msgspec.json.Decoder(_MessageE),
}
_CONTENT = {False: _content(ITEMS_B), True: _content(ITEMS_E)}


def _stored(raw: msgspec.Raw, variant_e: bool) -> StoredMessage:
    message = _MESSAGE[variant_e].decode(raw)
    content = bytes(message.content)
    items = _CONTENT[variant_e].decode(content)
    head = b'{"id":%s,"role":"%s","created":%d,"content":' % (
        _ENCODE.encode(message.id),
        message.role.encode(),
        message.created,
    )
    # Era E keeps the metadata's known fields, those the client sent (serde's Option).
    tail = b',"metadata":%s}' % _ENCODE.encode(message.metadata) if variant_e else b"}"
    has_text = any(isinstance(item, _Text) for item in items)
    kind: type[StoredMessage] = _KINDS[message.role, has_text]
    return kind(head + content + tail)


def _read_messages(raws: list[msgspec.Raw] | None, variant_e: bool) -> list[StoredMessage] | None:
    """The messages kept, each :class:`msgspec.Raw` freed as soon as it is read (the Raws of
    750,000 messages are 37 MB that would otherwise add to the peak)."""
    if raws is None:
        return None
    raws.reverse()
    messages = []
    while raws:
        messages.append(_stored(raws.pop(), variant_e))
    return messages


def read(body: Body, variant_e: bool) -> dict[str, Any] | None:
    """The request's fields (era B, or E), its messages as :class:`StoredMessage`; None when
    the body does not deserialize (:func:`.request.deserialize` then says why)."""
    try:
        request = _REQUEST[variant_e].decode(body.data)
        fields = {f: getattr(request, f) for f in request.__struct_fields__}
        if variant_e:
            fields["user_message"] = _stored(request.user_message, True)
            for name in ("conversation_so_far", "override_conversation"):
                fields[name] = _read_messages(fields[name], True)
        else:
            fields["messages"] = _read_messages(request.messages, False)
    except msgspec.DecodeError:  # a ValidationError is one too
        return None
    return fields
