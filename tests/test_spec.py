"""Schemas, order tables and rule registries as data."""

from __future__ import annotations

import pytest

from streamctl.core.spec import (
    ANY,
    SAME,
    Field,
    Finding,
    Level,
    Machine,
    Rule,
    Shape,
    Spec,
    merge_rules,
    validate,
)

INNER = Shape((Field("id", (int,)),))
SHAPE = Shape(
    (
        Field("name", (str,), nonempty=True),
        Field("count", (int,), required=False),
        Field("ratio", (float,), required=False),
        Field("kind", (str,), values=("a", "b"), required=False),
        Field("inner", (INNER, type(None)), required=False),
        Field("tags", (list,), items=str, required=False),
        Field("rows", (list,), items=INNER, required=False),
        Field("flag", (bool,), required=False),
    )
)


def test_a_fitting_object_has_no_problems() -> None:
    obj = {
        "name": "x",
        "count": 1,
        "ratio": 2,
        "kind": "a",
        "inner": {"id": 3},
        "tags": ["t"],
        "rows": [{"id": 1}],
        "flag": False,
        "extra": "ignored",
    }
    assert validate(obj, SHAPE) == []
    assert validate({"name": "x", "inner": None}, SHAPE) == []


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ([], "message must be an object"),
        ({}, "missing required field 'name'"),
        ({"name": ""}, "'name' must not be empty"),
        ({"name": 5}, "'name' must be string, got integer 5"),
        ({"name": "x", "count": True}, "'count' must be integer, got boolean True"),
        ({"name": "x", "count": 1.5}, "'count' must be integer, got number 1.5"),
        ({"name": "x", "ratio": False}, "'ratio' must be number, got boolean False"),
        ({"name": "x", "kind": "c"}, "'kind' must be one of ['a', 'b'], got 'c'"),
        ({"name": "x", "inner": {}}, "missing required field 'inner.id'"),
        ({"name": "x", "inner": []}, "'inner' must be object or null, got array"),
        ({"name": "x", "tags": [1]}, "'tags[0]' must be string, got integer 1"),
        ({"name": "x", "rows": [{"id": "1"}]}, "'rows[0].id' must be integer, got string '1'"),
        ({"name": "x", "flag": {}}, "'flag' must be boolean, got object"),
    ],
)
def test_each_departure_is_named(obj: object, problem: str) -> None:
    assert validate(obj, SHAPE) == [problem]


MACHINE = Machine(
    initial="idle",
    transitions={
        ("idle", "start"): "busy",
        ("busy", "token"): "busy",
        ("busy", "end"): "done",
        (ANY, "ping"): SAME,
        (ANY, "abort"): "done",
    },
    final=frozenset({"idle", "done"}),
    terminal=frozenset({"done"}),
    unexpected="p.order",
    incomplete="p.incomplete",
    after_final="p.after",
)


def test_the_table_walks_exact_wildcard_and_same_transitions() -> None:
    assert MACHINE.next_state("idle", "start") == "busy"
    assert MACHINE.next_state("busy", "ping") == "busy"
    assert MACHINE.next_state("idle", "ping") == "idle"
    assert MACHINE.next_state("busy", "abort") == "done"
    assert MACHINE.next_state("idle", "token") is None
    assert MACHINE.next_state("done", "ping") is None


def test_expected_lists_what_a_state_allows() -> None:
    assert MACHINE.expected("busy") == ["abort", "end", "ping", "token"]
    assert MACHINE.expected("done") == []


RULES = (Rule("p.a", Level.MUST, "A.", "src"), Rule("p.b", Level.SHOULD, "B.", "src"))


def test_a_spec_finds_rules_by_id_and_makes_findings() -> None:
    spec = Spec(merge_rules(RULES[:1], RULES[1:]), {})
    assert spec.rule("p.b").level is Level.SHOULD
    finding = spec.finding("p.a", "broken", 3, "frame")
    assert finding == Finding("p.a", Level.MUST, "broken", "src", 3, "frame")
    assert finding.as_dict() == {
        "rule": "p.a",
        "level": "MUST",
        "frame": 3,
        "message": "broken",
        "source": "src",
        "excerpt": "frame",
    }
    with pytest.raises(KeyError):
        spec.rule("p.nope")


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(ValueError, match=r"duplicate rule ids: \['p.a'\]"):
        Spec((*RULES, RULES[0]), {})
