"""Reply scripts: tokenizing, the default reply, and the JSON form of scenario replies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamctl.core.script import (
    FailurePoint,
    HoldPoint,
    Script,
    ScriptFormatError,
    Token,
    ToolCall,
    default_reply,
    from_text,
    script_from_dict,
    tokenize,
)

# --- tokenize ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\u00a0\u2028\u3000é😀")) | st.characters()))
def test_tokenize_concatenates_back_exactly(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert all(tokens)
    # Each token holds at most one word, and a word never straddles two tokens.
    assert all(len(t.split()) <= 1 for t in tokens)
    assert len([t for t in tokens if t.strip()]) == len(text.split())


def test_tokenize_examples() -> None:
    assert tokenize("Hello, world!") == ("Hello,", " world!")
    assert tokenize("  two  spaces \n") == ("  two", "  spaces", " \n")
    assert tokenize("") == ()
    assert tokenize("   ") == ("   ",)


# --- from_text and default_reply -----------------------------------------------------------


def test_from_text_delays() -> None:
    script = from_text("a b c", delay_ms=20, first_delay_ms=150)
    assert script.tokens == (Token("a", 150), Token(" b", 20), Token(" c", 20))
    assert from_text("a b", 5).tokens == (Token("a", 5), Token(" b", 5))
    assert from_text("a b").tokens == (Token("a", 0.0), Token(" b", 0.0))
    assert from_text("a b c").text == "a b c"


def test_default_reply_echoes_the_message_and_is_deterministic() -> None:
    reply = default_reply("hello   there\nmock", delay_ms=10)
    assert reply == default_reply("hello   there\nmock", delay_ms=10)
    assert reply.text.startswith('You said: "hello there mock" (3 words). ')
    assert "streamctl mock server" in reply.text
    assert len(reply.tokens) > 10
    assert all(t.delay_ms == 10 for t in reply.tokens)
    assert reply.tool is None
    assert reply.error is None
    assert default_reply("other").text != reply.text


def test_default_reply_word_counts() -> None:
    assert '"hi" (1 word).' in default_reply("hi").text
    assert '"" (0 words).' in default_reply("   ").text


def test_default_reply_truncates_long_messages() -> None:
    long = "x" * 300
    text = default_reply(long).text
    assert f'"{"x" * 199}…" (1 word)' in text
    assert "x" * 200 not in text
    exactly = "y" * 200
    assert f'"{exactly}"' in default_reply(exactly).text


# --- Script --------------------------------------------------------------------------------


def test_script_text_and_sent_tokens() -> None:
    tokens = (Token("a"), Token(" b"), Token(" c"))
    assert Script(tokens).sent_tokens == tokens
    assert Script(tokens).text == "a b c"
    cut = Script(tokens, error=FailurePoint("boom", after=2))
    assert cut.sent_tokens == tokens[:2]
    assert cut.text == "a b"
    assert Script(tokens, error=FailurePoint("boom")).text == ""


# --- script_from_dict: valid forms ---------------------------------------------------------


def test_reply_text() -> None:
    assert script_from_dict({"reply": "Hi there"}) == Script((Token("Hi"), Token(" there")))


def test_reply_with_delays() -> None:
    script = script_from_dict({"reply": "a b c", "delay_ms": 20, "first_delay_ms": 300})
    assert [t.delay_ms for t in script.tokens] == [300, 20, 20]
    script = script_from_dict({"reply": "a b", "delay_ms": 7.5})
    assert [t.delay_ms for t in script.tokens] == [7.5, 7.5]


def test_explicit_tokens() -> None:
    script = script_from_dict(
        {
            "tokens": ["Hel", {"text": "lo", "delay_ms": 500}, {"text": "!"}, "?"],
            "delay_ms": 10,
            "first_delay_ms": 40,
        }
    )
    assert script.tokens == (
        Token("Hel", 40),
        Token("lo", 500),
        Token("!", 10),
        Token("?", 10),
    )
    first = script_from_dict({"tokens": [{"text": "x"}], "first_delay_ms": 3})
    assert first.tokens == (Token("x", 3),)
    # "tokens" wins over "reply"; an empty list is an empty reply.
    assert script_from_dict({"tokens": [], "reply": "ignored"}).tokens == ()


def test_tool_with_every_field() -> None:
    script = script_from_dict(
        {
            "reply": "Let me check. It is sunny.",
            "tool": {
                "name": "get_weather",
                "arguments": {"city": "Paris"},
                "output": '{"sky": "clear"}',
                "after": 3,
                "id": "call_42",
            },
        }
    )
    assert script.tool == ToolCall(
        "get_weather", {"city": "Paris"}, '{"sky": "clear"}', 3, "call_42"
    )
    assert script.text == "Let me check. It is sunny."


def test_tool_defaults() -> None:
    script = script_from_dict({"reply": "a b", "tool": {"name": "f"}})
    assert script.tool == ToolCall("f", {}, "", after=2, id="call_1")


def test_structured_tool_output_is_json() -> None:
    script = script_from_dict({"reply": "", "tool": {"name": "f", "output": {"t": "€", "n": [1]}}})
    assert script.tool is not None
    assert script.tool.output == '{"t": "€", "n": [1]}'


def test_error_forms() -> None:
    assert script_from_dict({"reply": "a b", "error": "overloaded"}).error == FailurePoint(
        "overloaded", 0
    )
    script = script_from_dict({"reply": "a b c", "error": {"message": "cut", "after": 2}})
    assert script.error == FailurePoint("cut", 2)
    assert script.text == "a b"
    assert script_from_dict({"reply": "a", "error": None, "tool": None}) == Script((Token("a"),))


# --- script_from_dict: errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({}, "script: give the reply as 'reply' (text) or 'tokens' (list)"),
        ({"reply": 5}, "script: give the reply as 'reply'"),
        ({"reply": None}, "script: give the reply as 'reply'"),
        ({"reply": "a", "delay_ms": -1}, "script: 'delay_ms' must be a non-negative number"),
        ({"reply": "a", "delay_ms": "5"}, "script: 'delay_ms' must be a non-negative number"),
        ({"reply": "a", "delay_ms": True}, "script: 'delay_ms' must be a non-negative number"),
        ({"reply": "a", "delay_ms": float("nan")}, "script: 'delay_ms' must be a non-negative"),
        ({"reply": "a", "delay_ms": float("inf")}, "script: 'delay_ms' must be a non-negative"),
        ({"reply": "a", "first_delay_ms": None}, "script: 'first_delay_ms' must be a non-neg"),
        ({"tokens": "a b"}, "script: 'tokens' must be a list"),
        ({"tokens": ["a", 3]}, "script.tokens[1]: a token is a string or {'text': ..."),
        ({"tokens": [{"delay_ms": 3}]}, "script.tokens[0]: a token is a string or"),
        ({"tokens": [{"text": 1}]}, "script.tokens[0]: a token is a string or"),
        (
            {"tokens": ["a", {"text": "b", "delay_ms": -2}]},
            "script.tokens[1]: 'delay_ms' must be a non-negative number",
        ),
        ({"reply": "a", "tool": "f"}, "script.tool: needs at least a 'name'"),
        ({"reply": "a", "tool": {"arguments": {}}}, "script.tool: needs at least a 'name'"),
        ({"reply": "a", "tool": {"name": 1}}, "script.tool: needs at least a 'name'"),
        (
            {"reply": "a", "tool": {"name": "f", "arguments": "{}"}},
            "script.tool: 'arguments' must be an object",
        ),
        ({"reply": "a", "tool": {"name": "f", "id": 7}}, "script.tool: 'id' must be a non-empty"),
        ({"reply": "a", "tool": {"name": "f", "id": ""}}, "script.tool: 'id' must be a non-empty"),
        (
            {"reply": "a", "tool": {"name": "f", "after": -1}},
            "script.tool: 'after' must be a whole number of tokens from 0 to 1",
        ),
        ({"reply": "a", "tool": {"name": "f", "after": 1.5}}, "script.tool: 'after' must be"),
        ({"reply": "a", "tool": {"name": "f", "after": True}}, "script.tool: 'after' must be"),
        ({"reply": "a b", "tool": {"name": "f", "after": 3}}, "script.tool: 'after' must be"),
        ({"reply": "a", "error": 500}, "script.error: needs a 'message'"),
        ({"reply": "a", "error": {"after": 0}}, "script.error: needs a 'message'"),
        ({"reply": "a", "error": {"message": None}}, "script.error: needs a 'message'"),
        (
            {"reply": "a", "error": {"message": "x", "after": float("inf")}},
            "script.error: 'after' must be a whole number of tokens from 0 to 1",
        ),
        ({"reply": "a", "error": {"message": "x", "after": 2}}, "script.error: 'after' must"),
        ({"reply": "a", "error": {"message": "x", "after": "1"}}, "script.error: 'after' must"),
    ],
)
def test_format_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ScriptFormatError, match=f"^{re.escape(message)}"):
        script_from_dict(obj)


def test_format_error_is_a_value_error_and_names_the_place() -> None:
    with pytest.raises(ValueError, match=re.escape("scenario.reply.tool: needs")):
        script_from_dict({"reply": "a", "tool": {}}, where="scenario.reply")


# --- the documented examples ---------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "fixtures" / "README.md"


def test_readme_script_examples_are_valid() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Reply scripts\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", section, re.DOTALL)
    scripts = [script_from_dict(json.loads(block)) for block in blocks]
    assert len(scripts) == 5
    assert scripts[0].tokens[0].delay_ms == 400
    assert scripts[1].text == "Hello world"
    assert scripts[2].tool == ToolCall(
        "get_weather", {"city": "Paris"}, '{"sky": "clear", "c": 21}', 5, "call_1"
    )
    assert scripts[3].text == "This answer will"
    assert scripts[4].text == ""


def test_thinking_and_an_error_kind_are_read_and_checked() -> None:
    script = script_from_dict(
        {"reply": "a", "thinking": "hm", "error": {"message": "full", "kind": "context_exceeded"}}
    )
    assert script.thinking == "hm"
    assert script.error is not None
    assert script.error.kind == "context_exceeded"
    assert script_from_dict({"reply": "a", "error": "x"}).error.kind == "error"  # type: ignore[union-attr]
    with pytest.raises(ScriptFormatError, match="'thinking' must be text"):
        script_from_dict({"reply": "a", "thinking": 1})
    with pytest.raises(ScriptFormatError, match="'kind' must be one of error, context_exceeded"):
        script_from_dict({"reply": "a", "error": {"message": "x", "kind": "other"}})


# --- holds -----------------------------------------------------------------------------------


def test_a_hold_among_the_tokens_is_a_hold_point_not_a_token() -> None:
    script = script_from_dict(
        {"tokens": [{"hold": "start"}, "a", {"hold": "mid"}, " b", {"hold": "end"}], "delay_ms": 5}
    )
    assert script.text == "a b"
    assert script.holds == (HoldPoint("start", 0), HoldPoint("mid", 1), HoldPoint("end", 2))
    # The first token keeps the first delay, whatever hold comes before it.
    assert [t.delay_ms for t in script.tokens] == [5.0, 5.0]


def test_a_reply_without_holds_has_none() -> None:
    assert script_from_dict({"tokens": ["a"]}).holds == ()
    assert script_from_dict({"reply": "a b"}).holds == ()


@pytest.mark.parametrize(
    "hold", [{"hold": ""}, {"hold": 1}, {"hold": None}, {"hold": "x", "delay_ms": 1}]
)
def test_a_bad_hold_is_refused_with_its_place(hold: dict[str, Any]) -> None:
    with pytest.raises(ScriptFormatError, match=r"script\.tokens\[1\]: a hold is"):
        script_from_dict({"tokens": ["a", hold]})
