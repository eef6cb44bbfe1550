"""Scenario files: loading, validation messages that name the file and field, choosing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockserver.bundled import bundled_dir
from streamctl.core.protocols import names
from streamctl.core.script import Script, Token, from_text
from streamctl.core.transcript import (
    Close,
    End,
    Frame,
    Header,
    Request,
    Response,
    Transcript,
    dump,
)
from streamctl.engine.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioSet,
    UnknownScenarioError,
    fingerprint,
    load_dirs,
    load_file,
)

BUNDLED = ("conversation", "error-at-start", "error-mid-stream", "plain", "slow", "tool-call")
RECORDED = tuple(f"recorded-{p}" for p in names())


def write(directory: Path, name: str, obj: Any) -> Path:
    path = directory / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def test_the_bundled_scenarios_load_and_apply_to_their_protocols() -> None:
    scenarios = load_dirs([bundled_dir()])
    assert sorted(s.name for s in scenarios.scenarios) == sorted(BUNDLED + RECORDED)
    for protocol in names():
        assert sorted(scenarios.available(protocol)) == sorted((*BUNDLED, f"recorded-{protocol}"))


def test_the_bundled_set_covers_a_reply_a_conversation_an_error_and_a_tool_round() -> None:
    scenarios = load_dirs([bundled_dir()]).by_name
    assert scenarios["plain"].script(0).text
    assert len(scenarios["conversation"].turns) == 3
    mid = scenarios["error-mid-stream"].script(0)
    assert mid.error is not None
    assert 0 < mid.error.after < len(mid.tokens)
    start = scenarios["error-at-start"].script(0)
    assert start.error is not None
    assert start.error.after == 0
    assert scenarios["tool-call"].script(0).tool is not None


def test_a_single_script_file_is_named_after_its_stem_unless_it_says(tmp_path: Path) -> None:
    write(tmp_path, "greeting.json", {"reply": "Hi there", "delay_ms": 5})
    write(tmp_path, "other.json", {"name": "custom", "tokens": ["a", "b"]})
    scenarios = load_dirs([tmp_path])
    assert [s.name for s in scenarios.scenarios] == ["greeting", "custom"]  # file order
    assert scenarios.by_name["greeting"].script(0) == from_text("Hi there", 5)
    assert scenarios.by_name["custom"].script(0) == Script((Token("a"), Token("b")))


def test_a_file_may_hold_a_list_of_scenarios(tmp_path: Path) -> None:
    write(tmp_path, "many.json", [{"name": "one", "reply": "1"}, {"name": "two", "reply": "2"}])
    assert [s.name for s in load_file(tmp_path / "many.json")] == ["one", "two"]


def test_other_files_and_folders_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "# not a scenario")
    (tmp_path / "sub.json").mkdir()
    assert len(load_dirs([tmp_path])) == 0


def test_protocols_match_and_description_are_kept(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.json",
        {
            "description": "weather",
            "protocols": ["goose", "ws-events"],
            "match": "(?i)weather",
            "reply": "Sunny.",
        },
    )
    scenario = load_dirs([tmp_path]).by_name["w"]
    assert scenario.applies_to("goose")
    assert not scenario.applies_to("sse-delta-done")
    assert scenario.matches("What's the WEATHER like?")
    assert not scenario.matches("hello")
    assert scenario.summary() == {
        "name": "w",
        "kind": "scripted",
        "description": "weather",
        "protocols": ["goose", "ws-events"],
        "match": "(?i)weather",
        "turns": 1,
        "loop": False,
        "source": str(tmp_path / "w.json"),
    }


def test_past_the_last_turn_the_last_repeats_or_with_loop_it_wraps(tmp_path: Path) -> None:
    turns = [{"reply": "one"}, {"reply": "two"}, {"reply": "three"}]
    write(tmp_path, "repeat.json", {"turns": turns})
    write(tmp_path, "wrap.json", {"turns": turns, "loop": True})
    scenarios = load_dirs([tmp_path]).by_name
    assert [scenarios["repeat"].script(i).text for i in range(5)] == [
        "one",
        "two",
        "three",
        "three",
        "three",
    ]
    assert [scenarios["wrap"].script(i).text for i in range(5)] == [
        "one",
        "two",
        "three",
        "one",
        "two",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "[0]: a scenario must be a JSON object"),
        ([{"reply": "x"}], "[0]: 'name' is required for each scenario in a list"),
        ({"reply": "x", "delay": 5}, "unknown field 'delay'"),
        ({"name": "has space", "reply": "x"}, "'name' must be"),
        ({"name": 5, "reply": "x"}, "'name' must be"),
        ({"description": 1, "reply": "x"}, "'description' must be a string"),
        ({"loop": "yes", "reply": "x"}, "'loop' must be true or false"),
        ({"protocols": "goose", "reply": "x"}, "'protocols' must be a non-empty list"),
        ({"protocols": [], "reply": "x"}, "'protocols' must be a non-empty list"),
        ({"protocols": ["gopher"], "reply": "x"}, "'protocols': unknown protocol 'gopher'"),
        ({"match": 5, "reply": "x"}, "'match' must be a regular expression"),
        ({"match": "(", "reply": "x"}, "'match' is not a valid regular expression"),
        ({"description": "nothing to say"}, "give the reply as 'reply', 'tokens' or 'turns'"),
        ({"turns": [{"reply": "a"}], "reply": "b"}, "'turns' cannot be combined with reply"),
        ({"turns": []}, "'turns' must be a non-empty list"),
        ({"turns": ["a"]}, "turns[0]: a turn must be an object"),
        ({"turns": [{"reply": "a"}, {"reply": "b", "wait": 1}]}, "turns[1]: unknown field 'wait'"),
        ({"turns": [{"reply": "a"}, {"delay_ms": -1, "reply": "b"}]}, "turns[1]: 'delay_ms'"),
        ({"reply": 5}, "give the reply as 'reply' (text) or 'tokens' (list)"),
        ({"tokens": "abc"}, "'tokens' must be a list"),
        ({"reply": "x", "tool": {"arguments": {}}}, ".tool: needs at least a 'name'"),
        ({"reply": "x", "error": {"after": 0}}, ".error: needs a 'message'"),
    ],
)
def test_every_mistake_is_reported_with_the_file_and_the_field(
    tmp_path: Path, content: Any, expected: str
) -> None:
    path = write(tmp_path, "bad.json", content)
    with pytest.raises(ScenarioError) as caught:
        load_dirs([tmp_path])
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_dirs([tmp_path])


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not a directory"):
        load_dirs([tmp_path / "nope"])


def test_two_scenarios_of_one_name_in_one_directory_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.json", {"name": "same", "reply": "1"})
    write(tmp_path, "b.json", {"name": "same", "reply": "2"})
    with pytest.raises(ScenarioError, match=r"b\.json: 'name': 'same' is already defined in"):
        load_dirs([tmp_path])


def test_a_later_directory_overrides_an_earlier_one(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine, "plain.json", {"reply": "my own plain reply"})
    scenarios = load_dirs([bundled_dir(), mine])
    assert scenarios.by_name["plain"].script(0).text == "my own plain reply"
    assert len(scenarios) == len(BUNDLED) + len(RECORDED)


def recording(protocol: str = "sse-delta-done") -> Transcript:
    header = Header(
        protocol,
        "sse",
        Request("GET", "/api/chat/stream?message=hi"),
        Response(200, (("content-type", "text/event-stream"),)),
        meta={"description": "recorded from production"},
    )
    records = (
        Frame(3, "server", b'event: message\r\ndata: {"delta": "Hel"}\r\n\r\n'),
        Frame(9, "server", b'event: message\r\ndata: {"delta": "lo"}\r\n\r\nevent: mess'),
        Frame(12, "server", b'age\r\ndata: {"done": true}\r\n\r\n'),
        End(13, "complete"),
    )
    return Transcript(header, records)


def test_a_recording_is_a_scenario_for_its_own_protocol_only(tmp_path: Path) -> None:
    write(tmp_path, "captured.jsonl", dump(recording()))
    scenario = load_dirs([tmp_path]).by_name["captured"]
    assert scenario.kind == "recorded"
    assert scenario.description == "recorded from production"
    assert scenario.applies_to("sse-delta-done")
    assert not scenario.applies_to("goose")
    assert scenario.summary()["protocols"] == ["sse-delta-done"]
    # The text the protocol's own client reads from it (what the history records).
    assert scenario.script(0).text == "Hello"


def test_a_websocket_recordings_text_is_read_by_the_protocols_client(tmp_path: Path) -> None:
    header = Header("chunk-complete", "ws", Request("GET", "/chat/ws"), Response(101))
    records = (
        Frame(1, "client", '{"message": "hi"}'),
        Frame(2, "server", '{"type": "chunk", "message_id": "bot_1", "text": "Hey"}'),
        Frame(3, "server", b"binary frames carry no text"),
        Frame(4, "server", '{"type": "complete", "message_id": "bot_1"}'),
        Close(5, "client", 1000),
    )
    write(tmp_path, "ws.jsonl", dump(Transcript(header, records)))
    assert load_dirs([tmp_path]).by_name["ws"].script(0).text == "Hey"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not a transcript\n", "not a valid transcript"),
        (dump(recording("gopher")), "unknown protocol 'gopher'"),
        (dump(recording("chunk-complete")), "'transport': chunk-complete is ws, not sse"),
        (
            dump(Transcript(Header("sse-delta-done", "sse", Request("GET", "/")))),
            "'response': an SSE recording needs the response head",
        ),
    ],
)
def test_a_broken_recording_is_reported(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "rec.jsonl", text)
    with pytest.raises(ScenarioError, match=expected):
        load_dirs([tmp_path])


def test_a_recording_needs_a_usable_file_name(tmp_path: Path) -> None:
    write(tmp_path, "-bad name.jsonl", dump(recording()))
    with pytest.raises(ScenarioError, match="is not a usable scenario name"):
        load_dirs([tmp_path])


def test_the_fingerprint_changes_when_a_file_is_added_edited_or_removed(tmp_path: Path) -> None:
    empty = fingerprint([tmp_path])
    path = write(tmp_path, "a.json", {"reply": "one"})
    added = fingerprint([tmp_path])
    write(tmp_path, "a.json", {"reply": "a longer reply"})
    edited = fingerprint([tmp_path])
    path.unlink()
    assert len({empty, added, edited}) == 3
    assert fingerprint([tmp_path]) == empty
    assert fingerprint([tmp_path / "gone"]) == ((str(tmp_path / "gone"), -1, -1),)


# --- choosing -----------------------------------------------------------------------------

ONE = Scenario("one", (from_text("first"),))
TWO = Scenario("two", (from_text("second"),), match=__import__("re").compile("(?i)second"))
GOOSE_ONLY = Scenario("goose-only", (from_text("honk"),), protocols=frozenset({"goose"}))
SET = ScenarioSet((ONE, TWO, GOOSE_ONLY))


def test_an_unknown_or_foreign_name_lists_what_is_available() -> None:
    with pytest.raises(UnknownScenarioError) as caught:
        SET.get("goose-only", "sse-delta-done")
    assert caught.value.available == ["one", "two"]
    assert str(caught.value) == "unknown scenario 'goose-only' for protocol 'sse-delta-done'"
    assert SET.get("goose-only", "goose") is GOOSE_ONLY


def test_a_scenario_without_turns_plays_an_empty_reply() -> None:
    assert Scenario("empty").script(0) == Script(())
