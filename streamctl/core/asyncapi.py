"""A protocol's spec as an AsyncAPI 3.0 document, generated from the registry's data.

Nothing here is written per protocol: the channel is the protocol's streaming endpoint, the
server's messages are its spec's schemas (each wrapped the way the protocol puts a type on the
wire), the client's messages are its declared ``client_schemas``, the order table goes along as
an ``x-streamctl-order`` extension, and each message's description is the text of its schema
rule. The tests validate every document against the official AsyncAPI 3.0.0 JSON Schema.

The document describes the mock server from the server's side (AsyncAPI's "application"): it
*sends* the protocol's messages and *receives* the client's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from streamctl.core.spec import Field, Shape

if TYPE_CHECKING:
    from streamctl.core.protocols.exchange import Endpoint
    from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["ASYNCAPI_VERSION", "document", "shape_schema"]

ASYNCAPI_VERSION = "3.0.0"
WS_BINDING = "0.1.0"  # the latest WebSockets bindings version AsyncAPI 3.0.0 knows
HTTP_BINDING = "0.3.0"

_JSON_TYPES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}
_PARAM = re.compile(r"{([^}]+)}")


def shape_schema(shape: Shape) -> dict[str, Any]:
    """``shape`` as a JSON Schema (draft 07, which AsyncAPI's default schema format extends).

    Unknown members stay allowed, as :func:`~streamctl.core.spec.validate` allows them.
    """
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: _field_schema(f) for f in shape.fields},
    }
    required = [f.name for f in shape.fields if f.required]
    if required:
        schema["required"] = required
    return schema


def _field_schema(spec: Field) -> dict[str, Any]:
    options = [_type_schema(expected, spec) for expected in spec.types]
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    if spec.values is not None:
        schema = {**schema, "enum": list(spec.values)}
    return schema


def _type_schema(expected: type | Shape, spec: Field) -> dict[str, Any]:
    if isinstance(expected, Shape):
        return shape_schema(expected)
    schema: dict[str, Any] = {"type": _JSON_TYPES[expected]}
    if spec.nonempty and expected is str:
        schema["minLength"] = 1
    if expected is list:
        if spec.nonempty:
            schema["minItems"] = 1
        if spec.items is not None:
            items = spec.items
            schema["items"] = (
                shape_schema(items) if isinstance(items, Shape) else {"type": _JSON_TYPES[items]}
            )
    return schema


def payload_schema(proto: ChatProtocol, kind: str) -> dict[str, Any]:
    """The JSON a server message of type ``kind`` is on the wire: its schema, with the member
    that names its type (or the envelope that holds it) as the protocol declares."""
    body = shape_schema(proto.spec.schemas[kind])
    if proto.data_field is not None and proto.type_field is not None:
        return {
            "type": "object",
            "properties": {proto.type_field: {"const": kind}, proto.data_field: body},
            "required": [proto.type_field, proto.data_field],
        }
    if proto.type_field is not None:
        body["properties"] = {proto.type_field: {"const": kind}, **body["properties"]}
        body["required"] = [proto.type_field, *body.get("required", [])]
    return body


def _describe(proto: ChatProtocol, kind: str) -> str:
    rule_id = proto.rule_id(f"schema.{kind}")
    rule = next((r for r in proto.spec.rules if r.id == rule_id), None)
    if rule is None:
        return f"A {kind} message."
    return f"{rule.text} (rule `{rule.id}`, source: {rule.source})"


def _server_message(proto: ChatProtocol, kind: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": kind,
        "title": kind,
        "summary": f"{proto.name} server message {kind!r}",
        "description": _describe(proto, kind),
        "contentType": "application/json",
        "payload": payload_schema(proto, kind),
    }
    if proto.transport == "sse":
        message["x-sse-event"] = proto.event_names.get(kind, "message")
        message["bindings"] = {"http": _sse_message_binding()}
    return message


def _sse_message_binding() -> dict[str, Any]:
    content_type = {"type": "string", "const": "text/event-stream"}
    return {
        "statusCode": 200,
        "headers": {"type": "object", "properties": {"Content-Type": content_type}},
        "bindingVersion": HTTP_BINDING,
    }


def _client_message(proto: ChatProtocol, kind: str, shape: Shape) -> dict[str, Any]:
    return {
        "name": kind,
        "title": kind,
        "summary": f"{proto.name} client message {kind!r}",
        "contentType": "application/json",
        "payload": shape_schema(shape),
    }


def _message_keys(proto: ChatProtocol) -> tuple[dict[str, str], dict[str, str]]:
    """Component keys for the server's and the client's messages (distinct when both sides
    use a type name, such as ``error``)."""
    server = {kind: _key(kind) for kind in proto.spec.schemas}
    client = {kind: "client-" + _key(kind) for kind in proto.client_schemas}
    return server, client


def _key(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", kind)


def _channel(proto: ChatProtocol, endpoint: Endpoint, keys: list[str]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": endpoint.path,
        "title": f"{endpoint.method} {endpoint.path}",
        "description": endpoint.summary,
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in keys},
    }
    params = _PARAM.findall(endpoint.path)
    if params:
        channel["parameters"] = {name: {"description": f"{name} in the path"} for name in params}
    if proto.transport == "ws":
        channel["bindings"] = {"ws": {"method": "GET", "bindingVersion": WS_BINDING}}
    if proto.spec.machine is not None:
        channel["x-streamctl-order"] = _order(proto)
    return channel


def _order(proto: ChatProtocol) -> dict[str, Any]:
    machine = proto.spec.machine
    assert machine is not None  # _channel asks first
    return {
        "initial": machine.initial,
        "final": sorted(machine.final),
        "terminal": sorted(machine.terminal),
        "transitions": [
            {"from": state, "message": kind, "to": after}
            for (state, kind), after in machine.transitions.items()
        ],
    }


def _operations(
    proto: ChatProtocol, endpoint: Endpoint, server: list[str], client: list[str]
) -> Any:
    channel = {"$ref": "#/channels/stream"}
    sent: dict[str, Any] = {
        "action": "send",
        "channel": channel,
        "title": "Stream a reply",
        "summary": f"The server streams its reply over {endpoint.method} {endpoint.path}.",
        "messages": [{"$ref": f"#/channels/stream/messages/{key}"} for key in server],
    }
    if proto.transport == "sse":
        sent["bindings"] = {"http": {"method": endpoint.method, "bindingVersion": HTTP_BINDING}}
    operations: dict[str, Any] = {"streamReply": sent}
    if client:
        operations["receiveClientMessage"] = {
            "action": "receive",
            "channel": channel,
            "title": "Receive a client message",
            "messages": [{"$ref": f"#/channels/stream/messages/{key}"} for key in client],
        }
    return operations


def document(proto: ChatProtocol, version: str, host: str = "127.0.0.1:8000") -> dict[str, Any]:
    """The AsyncAPI 3.0 document for ``proto`` served by streamctl ``version`` at ``host``."""
    endpoint = proto.stream_endpoint
    server_keys, client_keys = _message_keys(proto)
    messages = {key: _server_message(proto, kind) for kind, key in server_keys.items()}
    for kind, key in client_keys.items():
        messages[key] = _client_message(proto, kind, proto.client_schemas[kind])
    keys = [*server_keys.values(), *client_keys.values()]
    description = (
        f"{proto.title}: the protocol of {proto.imitates} (seed {proto.seed}), as the streamctl "
        f"mock server serves it. `streamctl spec {proto.name}` lists every rule the checker "
        "enforces."
    )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{proto.name} (streamctl)",
            "version": version,
            "description": description,
        },
        "servers": {
            "mock": {
                "host": host,
                "protocol": "ws" if proto.transport == "ws" else "http",
                "description": "streamctl serve",
            }
        },
        "defaultContentType": "application/json",
        "channels": {"stream": _channel(proto, endpoint, keys)},
        "operations": _operations(
            proto, endpoint, list(server_keys.values()), list(client_keys.values())
        ),
        "components": {"messages": messages},
    }
