"""Choosing a scenario: per turn (requested, queued, matched, default) and per connection."""

from __future__ import annotations

import re

from streamctl.core.script import default_reply, from_text
from streamctl.core.transcript import Header, Request, Response, Transcript
from streamctl.engine.choice import Queues, choose, choose_recording
from streamctl.engine.scenarios import Scenario, ScenarioSet

ONE = Scenario("one", (from_text("first"),))
TWO = Scenario("two", (from_text("second"),), match=re.compile("(?i)second"))
GOOSE_ONLY = Scenario("goose-only", (from_text("honk"),), protocols=frozenset({"goose"}))
SET = ScenarioSet((ONE, TWO, GOOSE_ONLY))


def test_a_requested_scenario_wins_over_the_queue_and_the_match() -> None:
    queues = Queues()
    queues.add("goose", "one")
    choice = choose(SET, queues, "goose", "second please", requested=GOOSE_ONLY)
    assert (choice.name, choice.how, choice.script.text) == ("goose-only", "request", "honk")
    assert queues.peek("goose") == "one"


def test_the_queue_serves_count_requests_then_the_match_then_the_default() -> None:
    queues = Queues()
    queues.add("goose", "one", count=2)
    queues.add("goose", "goose-only")
    picked = [choose(SET, queues, "goose", "the second one").name for _ in range(5)]
    assert picked == ["one", "one", "goose-only", "two", "two"]
    fallback = choose(SET, queues, "goose", "hello", index=3, default_delay_ms=7)
    assert (fallback.name, fallback.how) == ("default", "default")
    assert fallback.script == default_reply("hello", 7)


def test_queues_are_per_protocol_and_can_be_listed_and_cleared() -> None:
    queues = Queues()
    queues.add("goose", "one", 3)
    queues.add("chunk-complete", "two")
    assert choose(SET, queues, "sse-delta-done", "x").how == "default"
    assert queues.take("goose") == "one"
    assert queues.snapshot() == {
        "goose": [{"scenario": "one", "remaining": 2}],
        "chunk-complete": [{"scenario": "two", "remaining": 1}],
    }
    queues.clear()
    assert queues.snapshot() == {}
    assert queues.peek("goose") is None


def test_a_queued_name_that_no_longer_applies_is_skipped() -> None:
    queues = Queues()
    queues.add("sse-delta-done", "goose-only")
    queues.add("sse-delta-done", "vanished")
    queues.add("sse-delta-done", "one")
    assert choose(SET, queues, "sse-delta-done", "x").name == "one"


def test_the_turn_index_picks_the_scripted_turn() -> None:
    talk = Scenario("talk", (from_text("a"), from_text("b")))
    queues = Queues()
    texts = [
        choose(SET, queues, "goose", "x", index=i, requested=talk).script.text for i in (0, 1, 2)
    ]
    assert texts == ["a", "b", "b"]


def recording(protocol: str) -> Transcript:
    request = Request("GET", "/chat/ws")
    return Transcript(Header(protocol, "ws", request, Response(101, ())), ())


def test_a_recording_requested_or_at_the_head_of_the_queue_answers_a_connection() -> None:
    taped = Scenario("taped", (from_text("hi"),), recording=recording("chunk-complete"))
    scenarios = ScenarioSet((ONE, taped))
    queues = Queues()
    assert choose_recording(scenarios, queues, "chunk-complete", None) is None
    asked = choose_recording(scenarios, queues, "chunk-complete", taped)
    assert asked is not None
    assert (asked.name, asked.how) == ("taped", "request")
    assert choose_recording(scenarios, queues, "chunk-complete", ONE) is None
    queues.add("chunk-complete", "one")
    assert choose_recording(scenarios, queues, "chunk-complete", None) is None
    assert queues.peek("chunk-complete") == "one"  # a scripted one waits for the first turn
    queues.take("chunk-complete")
    queues.add("chunk-complete", "taped")
    queued = choose_recording(scenarios, queues, "chunk-complete", None)
    assert queued is not None
    assert (queued.name, queued.how) == ("taped", "queue")
    assert queues.peek("chunk-complete") is None
    queues.add("ws-events", "taped")  # recorded from another protocol: not for this one
    assert choose_recording(scenarios, queues, "ws-events", None) is None
    assert queues.peek("ws-events") == "taped"
