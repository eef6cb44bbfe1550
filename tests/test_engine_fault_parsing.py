"""The one fault parser: every form in the docs, and errors that name the bad part."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamctl.engine.fault_parsing import FAULTS, Fault, FaultError, parse, parse_many, table

DOCS = Path(__file__).parent.parent / "docs" / "faults.md"


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("drop:after=5", "drop", {"after": 5}),
        ("drop:ms=300", "drop", {"ms": 300}),
        ("drop:after=5,mid", "drop", {"after": 5, "mid": True}),
        ("drop:after=3,code=1011", "drop", {"after": 3, "code": 1011}),
        ("stall:ms=2000", "stall", {"ms": 2000}),
        ("stall:ms=2000,pings,after=3", "stall", {"ms": 2000, "pings": True, "after": 3}),
        ("drip:bytes=1", "drip", {"bytes": 1}),
        ("drip", "drip", {}),
        ("malformed:json", "malformed:json", {}),
        ("malformed:missing-field,token=2", "malformed:missing-field", {"token": 2}),
        ("malformed:after-terminator", "malformed:after-terminator", {}),
        ("http:429,retry-after=5", "http:STATUS", {"status": 429, "retry-after": 5}),
        ("http:503", "http:STATUS", {"status": 503}),
        (
            "http:content-type=application/json",
            "http:content-type",
            {"content-type": "application/json"},
        ),
        ("http:content-length", "http:content-length", {}),
        ("delay:ms=500", "delay", {"ms": 500}),
        (" jitter:ms=50,seed=7 ", "jitter", {"ms": 50, "seed": 7}),
    ],
)
def test_every_documented_form_parses(text: str, name: str, params: dict[str, object]) -> None:
    fault = parse(text)
    assert (fault.name, dict(fault.params), fault.spec) == (name, params, text.strip())


@pytest.mark.parametrize(
    ("text", "status", "names"),
    [
        ("boom", 400, "unknown fault 'boom'"),
        ("drop:after=5,sideways", 400, "unknown parameter 'sideways' for drop"),
        ("drop:after=x", 422, "after='x' is not a whole number"),
        ("drop:mid", 422, "drop needs after=N or ms=T"),
        ("drop:after=1,code=99", 422, "code must be at least 1000 and at most 4999"),
        ("stall:pings", 422, "stall needs ms=…"),
        ("stall:ms", 400, "ms needs a value"),
        ("stall:ms=1,pings=yes", 400, "pings is a flag"),
        ("drip:bytes=0", 422, "bytes must be at least 1"),
        ("malformed", 400, "'malformed' needs a variant"),
        ("malformed:wobbly", 400, "unknown fault 'malformed:wobbly'"),
        ("http:418", 422, "status 418 is not one of"),
        ("http:content-type", 422, "http:content-type needs content-type=…"),
    ],
)
def test_errors_name_the_bad_part(text: str, status: int, names: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse(text)
    assert caught.value.status == status
    assert names in str(caught.value)
    assert repr(text) in str(caught.value)


def test_several_faults_in_one_string_and_in_many() -> None:
    faults = parse_many(["drop:after=2; delay:ms=5", "", "malformed:json;"])
    assert [f.name for f in faults] == ["drop", "delay", "malformed:json"]


def test_fault_accessors() -> None:
    fault = Fault("x", {"a": 3, "f": True, "s": "t"})
    assert (fault.int("a"), fault.int("s", 9), fault.int("missing", 4)) == (3, 9, 4)
    assert (fault.flag("f"), fault.flag("a"), fault.flag("missing")) == (True, False, False)


def test_the_table_lists_every_fault_with_an_example_that_parses() -> None:
    rows = table()
    assert [r["name"] for r in rows] == [k.name for k in FAULTS]
    for row in rows:
        assert row["description"]
        assert row["transports"]
        assert parse(row["example"]).name == row["name"]


def test_the_docs_cover_every_fault_with_its_example() -> None:
    text = DOCS.read_text(encoding="utf-8")
    headings = re.findall(r"^### `([^`]+)`", text, re.MULTILINE)
    assert headings == [k.name for k in FAULTS]
    for kind in FAULTS:
        assert kind.example in text, kind.name
