"""``streamctl spec PROTOCOL --format asyncapi``: a valid AsyncAPI 3.0 document per protocol,
made from the registry's data, and true to what the mock sends."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from streamctl import __version__
from streamctl.cli.app import app
from streamctl.core.asyncapi import document, payload_schema, shape_schema
from streamctl.core.protocols import REGISTRY, get, names
from streamctl.core.spec import Field, Shape, Spec
from streamctl.core.transcript import load

DATA = Path(__file__).parent / "data" / "asyncapi-specs"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
SCHEMA_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"


@pytest.fixture(scope="module")
def asyncapi_validator() -> jsonschema.Draft7Validator:
    raw = (DATA / "3.0.0.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256  # the file the README names
    return jsonschema.Draft7Validator(json.loads(raw))


def _spec_output(name: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["spec", name, "--format", "asyncapi"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize("name", names())
def test_the_document_is_valid_asyncapi_3(
    name: str, asyncapi_validator: jsonschema.Draft7Validator
) -> None:
    doc = _spec_output(name)
    errors = [e.message for e in asyncapi_validator.iter_errors(doc)]
    assert errors == []
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == __version__
    for message in doc["components"]["messages"].values():
        jsonschema.Draft7Validator.check_schema(message["payload"])


def test_the_validator_rejects_a_broken_document(
    asyncapi_validator: jsonschema.Draft7Validator,
) -> None:
    doc = _spec_output("chunk-complete")
    doc["operations"]["streamReply"]["action"] = "emit"
    doc["channels"]["stream"]["bindings"]["ws"]["method"] = "PUT"
    assert len(list(asyncapi_validator.iter_errors(doc))) == 2


@pytest.mark.parametrize("name", names())
def test_the_channel_and_operations_come_from_the_registry(name: str) -> None:
    proto = get(name)
    doc = document(proto, "9.9")
    channel = doc["channels"]["stream"]
    assert channel["address"] == proto.stream_endpoint.path
    sent = doc["operations"]["streamReply"]
    assert sent["action"] == "send"
    assert [m["$ref"].rsplit("/", 1)[1] for m in sent["messages"]] == list(proto.spec.schemas)
    received = doc["operations"].get("receiveClientMessage", {"messages": []})
    assert len(received["messages"]) == len(proto.client_schemas)
    order = channel["x-streamctl-order"]
    assert len(order["transitions"]) == len(proto.spec.machine.transitions)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", [n for n in names() if get(n).transport == "ws"])
def test_websocket_protocols_bind_the_upgrade(name: str) -> None:
    doc = document(get(name), "1")
    assert doc["servers"]["mock"]["protocol"] == "ws"
    assert doc["channels"]["stream"]["bindings"] == {
        "ws": {"method": "GET", "bindingVersion": "0.1.0"}
    }


@pytest.mark.parametrize("name", [n for n in names() if get(n).transport == "sse"])
def test_sse_protocols_bind_the_http_request_and_the_event_stream(name: str) -> None:
    proto = get(name)
    doc = document(proto, "1")
    assert doc["servers"]["mock"]["protocol"] == "http"
    binding = doc["operations"]["streamReply"]["bindings"]["http"]
    assert binding["method"] == proto.stream_endpoint.method
    for message in doc["components"]["messages"].values():
        assert message["bindings"]["http"]["statusCode"] == 200
        assert message["x-sse-event"] in ("message", message["name"], "tool")


def test_path_parameters_become_channel_parameters() -> None:
    channel = document(get("message-stream"), "1")["channels"]["stream"]
    assert channel["address"] == "/api/web/v1/chats/{chat_id}/messages/stream"
    assert list(channel["parameters"]) == ["chat_id"]


def test_a_message_names_its_schema_rule_and_source() -> None:
    message = document(get("chunk-complete"), "1")["components"]["messages"]["chunk"]
    assert "chunk-complete.schema.chunk" in message["description"]
    assert "docs/protocols/chunk-complete.md" in message["description"]
    ping = document(get("goose"), "1")["components"]["messages"]["Ping"]
    assert ping["description"] == "A Ping message."  # no rule: a Ping has no fields


def _recorded(name: str) -> list[tuple[str, dict[str, Any]]]:
    path = FIXTURES / f"recorded-{name}.jsonl"
    proto = get(name)
    msgs, _ = proto.messages(load(path.read_text()))
    return [(msg.type, json.loads(msg.raw)) for msg in msgs]


@pytest.mark.parametrize(
    "name", [n for n in names() if (FIXTURES / f"recorded-{n}.jsonl").exists()]
)
def test_every_recorded_message_fits_its_payload_schema(name: str) -> None:
    proto = get(name)
    recorded = _recorded(name)
    assert recorded
    for kind, obj in recorded:
        jsonschema.validate(obj, payload_schema(proto, kind))


@pytest.mark.parametrize("name", [n for n in names() if get(n).type_field is not None])
def test_a_message_of_another_type_does_not_fit(name: str) -> None:
    proto = get(name)
    assert proto.type_field is not None
    kinds = list(proto.spec.schemas)
    schema = payload_schema(proto, kinds[0])
    wrong = {proto.type_field: kinds[1]}
    assert not jsonschema.Draft7Validator(schema).is_valid(wrong)


def test_a_spec_without_an_order_table_exports_no_order() -> None:
    chunk = get("chunk-complete")

    class Unordered(type(chunk)):  # type: ignore[misc]
        spec = Spec(rules=chunk.spec.rules, schemas=chunk.spec.schemas)

    channel = document(Unordered(), "1")["channels"]["stream"]
    assert "x-streamctl-order" not in channel
    assert list(channel["messages"]) == ["chunk", "complete", "error", "client-message"]


def test_shapes_become_json_schemas() -> None:
    inner = Shape((Field("n", (int,)),))
    shape = Shape(
        (
            Field("s", (str,), nonempty=True),
            Field("x", (float, type(None)), required=False),
            Field("e", (str,), values=("a", "b")),
            Field("l", (list,), nonempty=True, items=inner),
            Field("t", (list,), items=str),
            Field("o", (inner,)),
            Field("b", (bool, dict)),
            Field("a", (list,), required=False),
        )
    )
    schema = shape_schema(shape)
    assert schema["required"] == ["s", "e", "l", "t", "o", "b"]
    props = schema["properties"]
    assert props["s"] == {"type": "string", "minLength": 1}
    assert props["x"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert props["e"] == {"type": "string", "enum": ["a", "b"]}
    assert props["l"]["minItems"] == 1
    assert props["l"]["items"]["properties"] == {"n": {"type": "integer"}}
    assert props["t"]["items"] == {"type": "string"}
    assert props["o"]["type"] == "object"
    assert props["b"] == {"anyOf": [{"type": "boolean"}, {"type": "object"}]}
    assert props["a"] == {"type": "array"}
    assert shape_schema(Shape(())) == {"type": "object", "properties": {}}
    good = {"s": "x", "e": "a", "l": [{"n": 1}], "t": ["y"], "o": {"n": 2}, "b": True}
    validator = jsonschema.Draft7Validator(schema)
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "s": ""})
    assert not validator.is_valid({**good, "l": [{"n": "1"}]})


def test_an_unknown_format_is_refused_with_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["spec", "goose", "--format", "openapi"])
    assert result.exit_code != 0
    assert "asyncapi" in result.output


def test_every_protocol_in_the_registry_is_exported() -> None:
    assert {document(p, "1")["info"]["title"] for p in REGISTRY.values()} == {
        f"{n} (streamctl)" for n in names()
    }
