"""chunk-complete: seed 003's exchanges pass; each rule has a transcript that breaks only it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamctl.core.check import check
from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols import get
from streamctl.core.protocols.chunk_complete import PROTOCOL, iso_timestamp
from streamctl.core.protocols.exchange import ClientOptions, Settings, Turn, Update
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, default_reply
from streamctl.core.transcript import Sender, Transcript
from tests.builders import ws_transcript

NAME = "chunk-complete"
SEED_STAMP = "2025-12-26T14:54:04.068Z"
SEED_CLOCK = datetime(2025, 12, 26, 14, 54, 4, 68000, tzinfo=UTC).timestamp()

Message = tuple[Sender, str | bytes]


def compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def ask(text: str = "Votre question ici") -> Message:
    return ("client", compact({"message": text, "timestamp": SEED_STAMP}))


def chunk(reply_id: str = "bot_1", text: str = "Fragment") -> Message:
    return ("server", compact({"type": "chunk", "message_id": reply_id, "text": text}))


def complete(reply_id: str = "bot_1") -> Message:
    return ("server", compact({"type": "complete", "message_id": reply_id}))


def error(message: str = "Description de l'erreur") -> Message:
    return ("server", compact({"type": "error", "message": message}))


def server(obj: object) -> Message:
    return ("server", compact(obj))


def rules_of(messages: list[Message], **kw: object) -> list[str]:
    return [f.rule for f in check(ws_transcript(NAME, messages, **kw))]  # type: ignore[arg-type]


GOOD: list[Message] = [ask(), chunk(), chunk(text=" de la réponse"), complete()]


# --- the seed's exchanges -----------------------------------------------------------------

# The three reply formats exactly as seed 003 prints them (pretty-printed JSON).
SEED_CHUNK = (
    '{\n  "type": "chunk",\n  "message_id": "bot_1",\n  "text": "Fragment de la réponse"\n}'
)
SEED_COMPLETE = '{\n  "type": "complete",\n  "message_id": "bot_1"\n}'
SEED_ERROR = '{\n  "type": "error",\n  "message": "Description de l\'erreur"\n}'
SEED_ASK = '{\n  "message": "Votre question ici",\n  "timestamp": "2025-12-26T14:54:04.068Z"\n}'


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(
            [("client", SEED_ASK), ("server", SEED_CHUNK), ("server", SEED_COMPLETE)], id="seed"
        ),
        pytest.param([("client", "{oops"), ("server", SEED_ERROR)], id="seed-error"),
        pytest.param(GOOD, id="several-chunks"),
        pytest.param([*GOOD, ask(), chunk("bot_2"), complete("bot_2")], id="two-replies"),
        pytest.param(
            [ask(), chunk(), error(), ask(), chunk("bot_2"), complete("bot_2")],
            id="failed-mid-reply",
        ),
        pytest.param([ask(), error(), *GOOD], id="failed-before-start"),
        pytest.param(
            [ask(), chunk(), ask(), complete(), chunk("bot_2"), complete("bot_2")],
            id="question-while-streaming",
        ),
        pytest.param([error("server restarting"), *GOOD], id="error-unprompted"),
        pytest.param([ask(), chunk(text=""), complete()], id="empty-reply"),
    ],
)
def test_the_seeds_exchanges_have_no_findings(messages: list[Message]) -> None:
    assert rules_of(messages) == []


def test_ids_may_skip_numbers_when_the_counter_is_shared() -> None:
    # A router with one global counter hands a new connection bot_7, then bot_9.
    messages = [ask(), chunk("bot_7"), complete("bot_7"), ask(), chunk("bot_9"), complete("bot_9")]
    assert rules_of(messages) == []


# --- one transcript per rule --------------------------------------------------------------

BREAKS: dict[str, list[Message] | tuple[list[Message], dict[str, object]]] = {
    "ws.handshake": ([], {"status": 403}),
    "ws.text": [*GOOD[:2], ("server", b'{"type":"chunk"}'), *GOOD[2:]],
    "chunk-complete.json": [*GOOD[:2], ("server", "{not json"), *GOOD[2:]],
    "chunk-complete.type.unknown": [*GOOD[:2], server({"type": "typing"}), *GOOD[2:]],
    "chunk-complete.schema.chunk": [
        ask(),
        server({"type": "chunk", "message_id": "bot_1"}),
        complete(),
    ],
    "chunk-complete.schema.complete": [*GOOD[:3], server({"type": "complete"})],
    "chunk-complete.schema.error": [ask(), server({"type": "error", "text": "x"})],
    "chunk-complete.order": [*GOOD, complete()],
    "chunk-complete.complete.missing": GOOD[:3],
    "chunk-complete.message-id.same": [ask(), chunk(), chunk("bot_2"), complete()],
    "chunk-complete.message-id.new": [*GOOD, ask(), chunk(), complete()],
    "chunk-complete.message-id.pattern": [ask(), chunk("msg-1"), complete("msg-1")],
    "chunk-complete.reply.unsolicited": GOOD[1:],
    "chunk-complete.reply.missing": [ask(), *GOOD],
}


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTOCOL.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    case = BREAKS[rule]
    messages, kw = case if isinstance(case, tuple) else (case, {})
    assert rules_of(list(messages), **kw) == [rule]


@pytest.mark.parametrize(
    ("rule", "messages"),
    [
        ("chunk-complete.message-id.pattern", [*GOOD, ask(), chunk("bot_1b"), complete("bot_1b")]),
        ("chunk-complete.message-id.pattern", [ask(), chunk("bot_0"), complete("bot_0")]),
        (  # ids must grow: bot_3 then bot_2
            "chunk-complete.message-id.pattern",
            [ask(), chunk("bot_3"), complete("bot_3"), ask(), chunk("bot_2"), complete("bot_2")],
        ),
        ("chunk-complete.message-id.same", [ask(), chunk(), chunk(), complete("bot_2")]),
        ("chunk-complete.order", [ask(), complete(), chunk(), complete()]),
        ("chunk-complete.order", [ask(), error(), complete()]),
        ("chunk-complete.type.unknown", [*GOOD, server({"message_id": "bot_1"})]),
        ("chunk-complete.type.unknown", [*GOOD, server({"type": ["chunk"]})]),
        ("chunk-complete.json", [*GOOD, ("server", '["chunk"]')]),
        # A first chunk without a usable id: only its schema is wrong, later ids are not judged.
        (
            "chunk-complete.schema.chunk",
            [ask(), server({"type": "chunk", "message_id": 1, "text": "a"}), chunk(), complete()],
        ),
        (
            "chunk-complete.schema.complete",
            [*GOOD[:3], server({"type": "complete", "message_id": 1})],
        ),
        # Two questions, one answer: the second question is the one left without an answer.
        ("chunk-complete.reply.missing", [ask(), ask(), error()]),
    ],
)
def test_other_ways_to_break_a_rule(rule: str, messages: list[Message]) -> None:
    assert rules_of(messages) == [rule]


def test_findings_point_at_the_offending_frame() -> None:
    [finding] = check(ws_transcript(NAME, [*GOOD, complete()]))
    assert (finding.frame, finding.excerpt) == (4, complete()[1])
    [finding] = check(ws_transcript(NAME, [ask(), chunk(), chunk("bot_2"), complete()]))
    assert finding.frame == 2
    assert "'bot_2'" in finding.message
    assert "'bot_1'" in finding.message


@pytest.mark.parametrize(
    ("end", "said"), [("timeout", "the recording ended: timeout"), (None, "got neither")]
)
def test_an_unanswered_message_is_reported_at_the_end(end: str | None, said: str) -> None:
    [finding] = check(ws_transcript(NAME, [*GOOD, ask()], end=end))
    assert finding.rule == "chunk-complete.reply.missing"
    assert finding.frame == (5 if end else 4)
    assert said in finding.message


# --- serving ------------------------------------------------------------------------------


def converse(scripts: list[Script]) -> tuple[Transcript, list[tuple[str, bool, list[str]]]]:
    """One connection: for each script, our client asks and the server streams the script.

    Returns the transcript and, per turn, what the client reassembled: text, done, errors.
    """
    session = PROTOCOL.open(PROTOCOL.new_state(Settings()))
    assert session.greeting() == ()
    messages: list[Message] = []
    seen: list[tuple[str, bool, list[str]]] = []
    for number, script in enumerate(scripts):
        client = PROTOCOL.client(ClientOptions(f"question {number}"), clock=lambda: SEED_CLOCK)
        [opening] = client.opening()
        reaction = session.receive(opening)
        assert reaction.send == ()
        assert reaction.turn is not None
        assert reaction.turn.index == number
        outs = session.render(script, reaction.turn)
        assert [o.terminal for o in outs] == [False] * (len(outs) - 1) + [True]
        chunks = [o.token for o in outs if o.token is not None]
        assert chunks == list(range(len(script.sent_tokens)))
        updates = [PROTOCOL.client(ClientOptions("")).on_message(str(o.payload)) for o in outs]
        session.finish(reaction.turn, script, completed=True)
        messages += [("client", opening), *(("server", o.payload) for o in outs)]
        seen.append(reassembled(updates))
    return ws_transcript(NAME, messages), seen


def reassembled(updates: list[Update]) -> tuple[str, bool, list[str]]:
    text = "".join(u.text for u in updates)
    errors = [u.error for u in updates if u.error is not None]
    return text, updates[-1].done, errors


TWO = (Token("Bon"), Token("jour"))


@pytest.mark.parametrize(
    "scripts",
    [
        pytest.param([default_reply("hello there")], id="default"),
        pytest.param([Script(TWO, tool=ToolCall("lookup", after=1))], id="tool"),
        pytest.param([Script(TWO, error=FailurePoint("boom", after=0))], id="error-before-start"),
        pytest.param([Script(TWO, error=FailurePoint("boom", after=1))], id="error-mid-stream"),
        pytest.param([Script(TWO, error=FailurePoint("boom", after=9))], id="error-at-end"),
        pytest.param([Script(())], id="empty"),
        pytest.param(
            [default_reply("one"), Script(TWO, error=FailurePoint("x", 1)), default_reply("three")],
            id="multi-turn",
        ),
    ],
)
def test_every_rendered_script_passes_and_reassembles(scripts: list[Script]) -> None:
    transcript, seen = converse(scripts)
    assert check(transcript) == []
    expected = [(s.text, True, [s.error.message] if s.error else []) for s in scripts]
    assert seen == expected


def test_replies_are_numbered_per_connection_from_bot_1() -> None:
    transcript, _ = converse([default_reply("a"), default_reply("b")])
    ids = {json.loads(str(f.payload))["message_id"] for _, f in transcript.frames("server")}
    assert ids == {"bot_1", "bot_2"}


def test_the_wire_format_is_starlettes_send_json() -> None:
    session = PROTOCOL.open(PROTOCOL.new_state(Settings()))
    turn = session.receive(compact({"message": "é"})).turn
    assert turn is not None
    outs = session.render(Script((Token("é"),)), turn)
    assert [o.payload for o in outs] == [
        '{"type":"chunk","message_id":"bot_1","text":"é"}',
        '{"type":"complete","message_id":"bot_1"}',
    ]


def test_token_delays_are_kept() -> None:
    session = PROTOCOL.open(PROTOCOL.new_state(Settings()))
    turn = session.receive(compact({"message": "hi"})).turn
    assert turn is not None
    outs = session.render(Script((Token("a", 5.0), Token("b", 7.5))), turn)
    assert [o.delay_ms for o in outs] == [5.0, 7.5, 0.0]


def test_each_connection_is_its_own_conversation() -> None:
    state = PROTOCOL.new_state(Settings())
    first, second = PROTOCOL.open(state), PROTOCOL.open(state)
    hello = compact({"message": "hi", "timestamp": SEED_STAMP})
    turns = [first.receive(hello).turn, first.receive(hello).turn, second.receive(hello).turn]
    assert [(t.conversation, t.index) for t in turns if t is not None] == [
        ("connection-1", 0),
        ("connection-1", 1),
        ("connection-2", 0),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "Invalid JSON"),
        ("[" * 100_000, "Invalid JSON"),  # too deep for json.loads: still an answer, not a crash
        ('"hello"', "message must be an object"),
        ("{}", "missing required field 'message'"),
        ('{"message": 5}', "'message' must be string, got integer 5"),
        ('{"message": ""}', "'message' must not be empty"),
        ('{"message": "  \\n "}', "'message' must not be empty"),
        ('{"message": "hi", "timestamp": 5}', "'timestamp' must be string or null"),
    ],
)
def test_invalid_input_gets_an_error_and_the_connection_stays_usable(
    text: str, reason: str
) -> None:
    session = PROTOCOL.open(PROTOCOL.new_state(Settings()))
    reaction = session.receive(text)
    assert reaction.turn is None
    [answer] = reaction.send
    assert json.loads(answer)["type"] == "error"
    assert reason in json.loads(answer)["message"]
    assert rules_of([("client", text), ("server", answer)]) == []
    after = session.receive(compact({"message": "hi", "timestamp": SEED_STAMP})).turn
    assert after is not None
    assert after.index == 0  # a refused message is not a turn


@pytest.mark.parametrize(
    "obj",
    [
        {"message": "hi"},
        {"message": "hi", "timestamp": None},
        {"message": "hi", "timestamp": "not a date", "extra": [1]},
    ],
)
def test_a_message_without_a_usable_timestamp_is_still_answered(obj: object) -> None:
    turn = PROTOCOL.open(PROTOCOL.new_state(Settings())).receive(compact(obj)).turn
    assert turn is not None
    assert turn.user_text == "hi"


# --- sending ------------------------------------------------------------------------------


def test_the_client_sends_the_seeds_message_shape() -> None:
    client = PROTOCOL.client(ClientOptions("Votre question ici"), clock=lambda: SEED_CLOCK)
    assert client.opening() == [compact({"message": "Votre question ici", "timestamp": SEED_STAMP})]


def test_the_client_stamps_with_the_wall_clock_by_default() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    [opening] = PROTOCOL.client(ClientOptions("hi")).opening()
    stamp = json.loads(opening)["timestamp"]
    assert stamp.endswith("Z")
    assert len(stamp) == len(SEED_STAMP)
    sent = datetime.fromisoformat(stamp)
    assert before <= sent <= datetime.now(UTC)


def test_iso_timestamp_keeps_milliseconds() -> None:
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(SEED_CLOCK) == SEED_STAMP


@pytest.mark.parametrize(
    ("text", "update"),
    [
        (chunk(text="Frag")[1], Update(text="Frag")),
        (compact({"type": "chunk", "message_id": "bot_1", "text": 5}), Update()),
        (complete()[1], Update(done=True)),
        (error("nope")[1], Update(error="nope", done=True)),
        ('{"type":"error"}', Update(error='malformed error: \'{"type":"error"}\'', done=True)),
        ('{"type":"typing"}', Update(info="ignored a message of type 'typing'")),
        ("{oops", Update(info="ignored a non-JSON message: '{oops'")),
        ("[" * 100_000, Update(info=f"ignored a non-JSON message: {'[' * 80!r}")),
        ("[1]", Update(info="ignored a non-object message: '[1]'")),
    ],
)
def test_the_client_reads_every_server_message(text: str, update: Update) -> None:
    assert PROTOCOL.client(ClientOptions("hi")).on_message(text) == update


def test_the_protocol_is_registered_with_its_endpoint() -> None:
    assert get(NAME) is PROTOCOL
    assert (PROTOCOL.transport, PROTOCOL.seed) == ("ws", "003")
    assert (PROTOCOL.stream_endpoint.method, PROTOCOL.stream_endpoint.path) == ("WS", "/chat/ws")
    assert PROTOCOL.routes() == ()


@given(st.lists(st.text(), max_size=5), st.integers(0, 3))
def test_rendered_chunks_are_send_json_of_each_chunk(texts: list[str], turn: int) -> None:
    # render() builds chunks from a JSON head and each token's text: byte for byte what the
    # whole chunk object encodes to.
    session = PROTOCOL.open(PROTOCOL.new_state(Settings()))
    outs = session.render(Script(tuple(Token(t) for t in texts)), Turn("hi", turn))
    for out, text in zip(outs, texts, strict=False):
        expected = {"type": "chunk", "message_id": f"bot_{turn + 1}", "text": text}
        assert out.payload == dumps_compact(expected)


def test_a_rendering_depends_on_the_script_and_the_turns_number_only() -> None:
    # render_key promises a server may reuse a rendering for the same script and key.
    script = Script((Token("Hello"), Token(" there")))
    one, other = (PROTOCOL.open(PROTOCOL.new_state(Settings())) for _ in range(2))
    for index in range(3):
        turn, elsewhere = Turn("hi", index, "c1"), Turn("something else", index, "c2")
        assert one.render_key(turn) == other.render_key(elsewhere) == index
        assert one.render(script, turn) == other.render(script, elsewhere)
    assert one.render(script, Turn("hi", 0, "c")) != one.render(script, Turn("hi", 1, "c"))


def test_protocols_whose_rendering_varies_give_no_render_key() -> None:
    ws_events = get("ws-events")
    session = ws_events.open(ws_events.new_state(Settings()))  # type: ignore[attr-defined]
    assert session.render_key(Turn("hi", 0, "c")) is None
