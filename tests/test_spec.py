"""Schemas, order tables and rule registries as data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    _problems,
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


# --- the compiled predicate agrees with validate ----------------------------------------------

KEYS = ("a", "b", "c")
SCALARS = st.sampled_from([str, int, float, bool, list, dict, type(None)])


def _shapes(children: st.SearchStrategy[Shape]) -> st.SearchStrategy[Shape]:
    field = st.builds(
        Field,
        name=st.sampled_from(KEYS),
        types=st.lists(SCALARS | children, min_size=1, max_size=3).map(tuple),
        required=st.booleans(),
        # Mostly without an enumeration or emptiness test, which would hide the other tests.
        values=st.sampled_from([None, None, None, ("x", 0, 1, True, None), ("x",)]),
        nonempty=st.sampled_from([False, False, False, True]),
        items=st.none() | SCALARS | children,
    )
    array = st.builds(
        Field, name=st.sampled_from(KEYS), types=st.just((list,)), items=SCALARS | children
    )
    return st.lists(field | array, max_size=3).map(lambda fields: Shape(tuple(fields)))


SHAPES = st.recursive(st.just(Shape(())), _shapes, max_leaves=6)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.floats(-2, 2) | st.sampled_from(["", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=10,
)


@settings(max_examples=1000, deadline=None)
@given(SHAPES, st.data())
def test_fits_says_yes_exactly_when_validate_finds_nothing(
    shape: Shape, data: st.DataObject
) -> None:
    # Values drawn from the shape itself: most fit, or miss it by one member, which is where a
    # predicate that is too lenient or too strict shows.
    value = data.draw(_near(shape) | VALUES)
    assert shape.fits(value) == (_problems(value, shape, "") == [])


_SCALAR_VALUES: dict[type, st.SearchStrategy[object]] = {
    str: st.sampled_from(["", "x"]),
    int: st.integers(-1, 1) | st.booleans(),  # a bool is an int in Python, not in JSON
    float: st.floats(-1, 1) | st.integers(-1, 1) | st.booleans(),
    bool: st.booleans(),
    type(None): st.none(),
    dict: st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=2),
}


def _near(shape: Shape) -> st.SearchStrategy[object]:
    members = {spec.name: _near_field(spec) | VALUES for spec in shape.fields}
    return st.fixed_dictionaries({}, optional=members)


def _near_field(spec: Field) -> st.SearchStrategy[object]:
    options = [st.sampled_from(spec.values)] if spec.values else []
    for expected in spec.types:
        if isinstance(expected, Shape):
            options.append(_near(expected))
        elif expected is list:
            item = spec.items
            element = _near(item) if isinstance(item, Shape) else _SCALAR_VALUES.get(item, VALUES)
            options.append(st.lists(element | VALUES, max_size=2))
        else:
            options.append(_SCALAR_VALUES[expected])
    return st.one_of(options)


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
    spec = Spec(RULES, {})
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
