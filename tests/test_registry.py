"""Every protocol in the registry is complete and consistent with itself."""

from __future__ import annotations

import pytest

from streamctl.core.protocols import REGISTRY, UnknownProtocolError, get, names
from streamctl.core.protocols.exchange import Settings
from streamctl.core.protocols.goose.state import GooseSettings
from streamctl.core.protocols.ws_events.server import WsEventsSettings
from streamctl.core.spec import ANY, SAME

PROTOCOLS = list(REGISTRY.values())


def test_the_registry_lists_the_six_protocols_in_order() -> None:
    assert names() == [
        "goose",
        "ws-events",
        "chunk-complete",
        "sse-delta-done",
        "message-stream",
        "goose-web",
    ]


def test_each_protocol_finds_its_own_settings_by_its_name() -> None:
    goose = GooseSettings(secret="s", variant="e")
    settings = Settings(protocols={"goose": goose})
    assert get("goose").new_state(settings).own is goose
    assert get("ws-events").new_state(settings).own == WsEventsSettings()  # none given
    wrong = Settings(protocols={"ws-events": goose})
    with pytest.raises(TypeError, match="ws-events settings must be a WsEventsSettings"):
        get("ws-events").new_state(wrong)


def test_an_unknown_protocol_names_the_known_ones() -> None:
    with pytest.raises(UnknownProtocolError) as error:
        get("nope")
    assert str(error.value) == (
        "unknown protocol 'nope'; known: goose, ws-events, chunk-complete, sse-delta-done, "
        "message-stream, goose-web"
    )


@pytest.mark.parametrize("proto", PROTOCOLS, ids=names())
def test_every_message_type_in_the_order_table_has_a_schema(proto: object) -> None:
    spec = proto.spec  # type: ignore[attr-defined]
    types = {t for (_, t) in spec.machine.transitions}
    assert types <= set(spec.schemas), types - set(spec.schemas)


@pytest.mark.parametrize("proto", PROTOCOLS, ids=names())
def test_the_order_table_names_real_rules_and_reachable_states(proto: object) -> None:
    spec = proto.spec  # type: ignore[attr-defined]
    machine = spec.machine
    for rule in (machine.unexpected, machine.incomplete, machine.after_final):
        assert spec.rule(rule).id == rule
    targets = {machine.initial} | {t for t in machine.transitions.values() if t != SAME}
    sources = {s for (s, _) in machine.transitions if s != ANY}
    assert sources <= targets
    assert machine.final <= targets


@pytest.mark.parametrize("proto", PROTOCOLS, ids=names())
def test_rule_ids_are_namespaced_and_have_text_and_source(proto: object) -> None:
    name = proto.name  # type: ignore[attr-defined]
    for rule in proto.spec.rules:  # type: ignore[attr-defined]
        assert rule.id.startswith((f"{name}.", "sse.", "ws.")), rule.id
        assert rule.text.endswith("."), rule.id
        assert rule.source, rule.id
