"""Specs as data: rules, findings, message schemas and order state machines.

A protocol's spec is a :class:`Spec`: its rules (each with a stable id, a level and a source),
the schema of every message, and the order it allows as one transition table. The checker applies
them; ``streamctl spec`` prints them; nothing else carries its own copy.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Field",
    "Finding",
    "Level",
    "Machine",
    "Msg",
    "Rule",
    "Shape",
    "Spec",
    "validate",
]


class Level(enum.StrEnum):
    """RFC 2119 requirement level of a rule."""

    MUST = "MUST"
    SHOULD = "SHOULD"


@dataclass(frozen=True, slots=True)
class Rule:
    """One checkable requirement. ``id`` is stable: tools and CI configs refer to it."""

    id: str
    level: Level
    text: str
    source: str
    #: Facts of the exchange the rule needs (``timing``, ``request``, ``response``, ``client``;
    #: see :data:`streamctl.core.transcript.FACTS`): a capture that lacks one cannot judge it.
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule broken at a place in a transcript (``frame`` indexes its records, or ``None``)."""

    rule: str
    level: Level
    message: str
    source: str
    frame: int | None = None
    excerpt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level.value,
            "frame": self.frame,
            "message": self.message,
            "source": self.source,
            "excerpt": self.excerpt,
        }


class Msg(NamedTuple):
    """One protocol message decoded from the wire, ready for schema, order and content rules.

    ``frame`` is the transcript record that completed it; ``t`` its time offset in ms.
    (A named tuple: the checker makes one per message, so construction cost matters.)
    """

    type: str
    body: Mapping[str, Any]
    frame: int
    t: float = 0.0
    raw: str = ""


# --- schemas ------------------------------------------------------------------------------

_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class Field:
    """A member of a JSON object: its accepted types, and optional constraints.

    ``types`` may contain a nested :class:`Shape` (an object with its own fields). ``items``
    validates every element of an array. ``values`` restricts to an enumeration.
    """

    name: str
    types: tuple[type | Shape, ...]
    required: bool = True
    values: tuple[Any, ...] | None = None
    nonempty: bool = False
    items: Shape | type | None = None


@dataclass(frozen=True, slots=True)
class Shape:
    """A JSON object's expected members. Unknown members are allowed (clients ignore them)."""

    fields: tuple[Field, ...]
    _plan: tuple[_Step, ...] = field(init=False, repr=False, compare=False, hash=False)
    _fits: Callable[[Any], bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_plan", tuple(_step(f) for f in self.fields))
        object.__setattr__(self, "_fits", _compile(self))

    def fits(self, value: Any) -> bool:
        """Whether ``value`` fits this shape: ``validate(value, shape) == []``, much faster."""
        return self._fits(value)


# How one field is checked, worked out once per schema: validation runs for every message a
# checker reads, so the common case (a plain type test) must not go through the general path.
_Step = tuple[Field, tuple[type, ...], bool, bool]


def _step(spec: Field) -> _Step:
    """``(field, isinstance types, reject bool, simple)``; ``simple`` fields need only the
    isinstance test (no nested shape, enumeration, emptiness or items to look into)."""
    pytypes: set[type] = set()
    for expected in spec.types:
        if isinstance(expected, Shape):
            pytypes.add(dict)
        elif expected is float:
            pytypes |= {int, float}
        else:
            pytypes.add(expected)
    # bool is a subclass of int in Python, not a number in JSON.
    reject_bool = bool not in spec.types and bool(pytypes & {int, float})
    simple = (
        spec.values is None
        and not spec.nonempty
        and spec.items is None
        and not any(isinstance(t, Shape) for t in spec.types)
    )
    return spec, tuple(pytypes), reject_bool, simple


def _type_name(expected: type | Shape) -> str:
    return "object" if isinstance(expected, Shape) else _TYPE_NAMES[expected]


def _matches(value: Any, expected: type | Shape) -> bool:
    if expected is str:  # by far the most common, so first
        return isinstance(value, str)
    if isinstance(expected, Shape):
        return isinstance(value, dict)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, expected)


_MISSING = object()


def validate(value: Any, shape: Shape, path: str = "") -> list[str]:
    """Every way ``value`` departs from ``shape``, as readable strings (empty when it fits)."""
    if shape._fits(value):
        return []  # nearly every message a checker reads: no reasons to look for
    return _problems(value, shape, path)


def _problems(value: Any, shape: Shape, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path or 'message'} must be an object"]
    problems: list[str] = []
    for spec, pytypes, reject_bool, simple in shape._plan:
        member = value.get(spec.name, _MISSING)
        if member is _MISSING:
            if spec.required:
                problems.append(f"missing required field {_join(path, spec.name)!r}")
        elif not (
            simple
            and isinstance(member, pytypes)
            and not (reject_bool and member.__class__ is bool)
        ):
            problems.extend(_validate_field(member, spec, path))
    return problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _validate_field(value: Any, spec: Field, path: str) -> list[str]:
    matched: type | Shape | None = None
    for expected in spec.types:
        if _matches(value, expected):
            matched = expected
            break
    if matched is None:
        names = " or ".join(_type_name(t) for t in spec.types)
        return [f"{_join(path, spec.name)!r} must be {names}, got {_describe(value)}"]
    if spec.values is not None and value not in spec.values:
        where = _join(path, spec.name)
        return [f"{where!r} must be one of {list(spec.values)!r}, got {value!r}"]
    if spec.nonempty and not value:
        return [f"{_join(path, spec.name)!r} must not be empty"]
    if isinstance(matched, Shape):
        return _problems(value, matched, _join(path, spec.name))
    if spec.items is not None and isinstance(value, list):
        return _validate_items(value, spec.items, _join(path, spec.name))
    return []


def _validate_items(items: list[Any], expected: Shape | type, where: str) -> list[str]:
    problems: list[str] = []
    for i, item in enumerate(items):
        if isinstance(expected, Shape):
            problems.extend(_problems(item, expected, f"{where}[{i}]"))
        elif not _matches(item, expected):
            problems.append(f"'{where}[{i}]' must be {_type_name(expected)}, got {_describe(item)}")
    return problems


def _describe(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value), type(value).__name__)
    return f"{name} {value!r}" if isinstance(value, str | int | float) else name


# --- compiled schemas -------------------------------------------------------------------------
#
# ``validate`` explains every problem, which takes a walk through the plan above for each field.
# A checker asks it about every message, and nearly every message fits, so each Shape also gets a
# predicate that only answers yes or no: Python source generated from the schema once (as
# dataclasses and namedtuple generate theirs), with every nested shape and array inlined. It must
# agree with ``validate`` on every value; tests/test_spec.py checks that on random shapes and
# values.


def _compile(shape: Shape) -> Callable[[Any], bool]:
    # A required member is read as `obj[name]`: one KeyError handler for the whole function
    # costs nothing until a member is missing, where `.get()` and a test would run for each.
    names: dict[str, Any] = {"_MISSING": _MISSING}
    lines = ["def fits(v0):", "    if not isinstance(v0, dict): return False", "    try:"]
    _emit_shape(shape, "v0", 2, lines, names, is_dict=True)
    lines += ["    except KeyError:", "        return False", "    return True"]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), names, namespace)  # the source is built above from a Shape
    fits: Callable[[Any], bool] = namespace["fits"]
    return fits


def _const(value: Any, names: dict[str, Any]) -> str:
    """A name under which the generated code sees ``value``."""
    name = f"_c{len(names)}"
    names[name] = value
    return name


def _emit_shape(
    shape: Shape, var: str, depth: int, lines: list[str], names: dict[str, Any], *, is_dict: bool
) -> None:
    pad = "    " * depth
    if not is_dict:
        lines.append(f"{pad}if not isinstance({var}, dict): return False")
    lines.append(f"{pad}pass")  # a shape without fields still needs a statement
    for spec in shape.fields:
        member = f"v{depth}_{len(lines)}"
        if spec.required:
            lines.append(f"{pad}{member} = {var}[{spec.name!r}]")
            _emit_field(spec, member, depth, lines, names)
        else:
            lines.append(f"{pad}{member} = {var}.get({spec.name!r}, _MISSING)")
            lines.append(f"{pad}if {member} is not _MISSING:")
            _emit_field(spec, member, depth + 1, lines, names)


def _emit_field(spec: Field, var: str, depth: int, lines: list[str], names: dict[str, Any]) -> None:
    pad = "    " * depth
    _, pytypes, reject_bool, _ = _step(spec)
    test = f"isinstance({var}, {_const(pytypes[0] if len(pytypes) == 1 else pytypes, names)})"
    if reject_bool:
        test += f" and {var}.__class__ is not bool"
    lines.append(f"{pad}if not ({test}): return False")
    if spec.values is not None:
        lines.append(f"{pad}if {var} not in {_const(spec.values, names)}: return False")
    if spec.nonempty:
        lines.append(f"{pad}if not {var}: return False")
    # A dict is validated against the first type that takes a dict, as _validate_field does.
    takes_dict = [t for t in spec.types if isinstance(t, Shape) or t is dict]
    if takes_dict and isinstance(takes_dict[0], Shape):
        if pytypes == (dict,):  # the test above already made sure
            _emit_shape(takes_dict[0], var, depth, lines, names, is_dict=True)
        else:
            lines.append(f"{pad}if isinstance({var}, dict):")
            _emit_shape(takes_dict[0], var, depth + 1, lines, names, is_dict=True)
    if spec.items is not None:
        item = f"i{depth}_{len(lines)}"
        lines.append(f"{pad}if isinstance({var}, list):")
        lines.append(f"{pad}    for {item} in {var}:")
        if isinstance(spec.items, Shape):
            _emit_shape(spec.items, item, depth + 2, lines, names, is_dict=False)
        else:
            lines.append(
                f"{pad}        if not {_const(_matches, names)}({item}, "
                f"{_const(spec.items, names)}): return False"
            )


# --- order --------------------------------------------------------------------------------

ANY = "*"
#: As a transition's target: stay in the current state (e.g. a heartbeat allowed anywhere).
SAME = "="


@dataclass(frozen=True, slots=True)
class Machine:
    """The order a protocol allows, as one transition table.

    ``transitions`` maps ``(state, message type)`` to the next state; a state of ``"*"`` matches
    every state that is not terminal, and a next state of ``"="`` keeps the current one.
    An exchange may end in a ``final`` state; nothing may follow a ``terminal`` one. A message
    the table does not allow breaks rule ``unexpected``; a message after a terminal state breaks
    ``after_final``; a stream that ends outside a final state breaks ``incomplete``.
    """

    initial: str
    transitions: Mapping[tuple[str, str], str]
    final: frozenset[str]
    unexpected: str
    incomplete: str
    after_final: str
    terminal: frozenset[str] = field(default_factory=frozenset)

    def next_state(self, state: str, msg_type: str) -> str | None:
        """The state after ``msg_type`` in ``state``, or ``None`` when the table forbids it."""
        if state in self.terminal:
            return None
        after = self.transitions.get((state, msg_type))
        if after is None:
            after = self.transitions.get((ANY, msg_type))
        return state if after == SAME else after

    def expected(self, state: str) -> list[str]:
        """Message types allowed in ``state`` (for readable findings and generated docs)."""
        if state in self.terminal:
            return []
        return sorted({t for (s, t) in self.transitions if s in (state, ANY)})


@dataclass(frozen=True)
class Spec:
    """A protocol's rules, message schemas and order, all as data."""

    rules: tuple[Rule, ...]
    schemas: Mapping[str, Shape]
    machine: Machine | None = None

    _by_id: dict[str, Rule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {rule.id: rule for rule in self.rules}
        if len(by_id) != len(self.rules):
            ids = [rule.id for rule in self.rules]
            raise ValueError(f"duplicate rule ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        object.__setattr__(self, "_by_id", by_id)

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def finding(
        self, rule_id: str, message: str, frame: int | None = None, excerpt: str | None = None
    ) -> Finding:
        """A finding for ``rule_id``, carrying the rule's level and source."""
        rule = self.rule(rule_id)
        return Finding(rule.id, rule.level, message, rule.source, frame, excerpt)
