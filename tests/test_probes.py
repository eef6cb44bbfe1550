"""The contract suite's plans, driven without a server: each judgement, on scripted answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from streamctl.core import baseline
from streamctl.core.check import NO_REPLY
from streamctl.core.probe import (
    Action,
    Connected,
    Context,
    Fetch,
    Fetched,
    NotRun,
    Observation,
    Probe,
    ProbeResult,
    Received,
    Send,
    Talked,
    hit,
    run_plan,
    stalled_rule,
    stream_findings,
    types_of,
    verdict,
)
from streamctl.core.probes import coverage, select, suite, suite_rules, unreachable
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.transcript import End, Transcript
from tests.builders import sse_transcript, ws_transcript


def ctx(protocol: str, **changes: object) -> Context:
    options = ClientOptions("hi", token=changes.pop("token", "t"))  # type: ignore[arg-type]
    return Context(get(protocol), options, idle_s=1.0, now=1_000_000.0, **changes)  # type: ignore[arg-type]


def probe(protocol: str, name: str) -> Probe:
    return next(p for p in suite(get(protocol)) if p.name == name)


class Script:
    """Answers each kind of action from its own queue (the last answer repeats)."""

    def __init__(self, **answers: Sequence[Observation]) -> None:
        self.answers = {kind: list(seq) for kind, seq in answers.items()}
        self.actions: list[Action] = []

    def __call__(self, action: Action) -> Observation:
        self.actions.append(action)
        queue = self.answers[type(action).__name__]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def rules(
    protocol: str, name: str, script: Callable[[Action], Observation], **kw: object
) -> list[str]:
    found = run_plan(probe(protocol, name).plan(ctx(protocol, **kw)), script)
    return [f.rule for f in found]


def ws(kind: str, **data: object) -> Received:
    return Received(json.dumps({"type": kind, "data": data}))


# --- goose --------------------------------------------------------------------------------


def test_goose_auth_wants_401_with_an_empty_body_and_an_open_status() -> None:
    good = Script(Fetch=[Fetched(401, (), b""), Fetched(401, (), b""), Fetched(200, (), b"{}")])
    assert rules("goose", "auth", good) == []
    sent = [a for a in good.actions if isinstance(a, Fetch)]
    assert all("x-secret-key" not in dict(a.headers) for a in sent[:1])
    bad = Script(Fetch=[Fetched(401, (), b'{"e":1}'), Fetched(200, (), b""), Fetched(401, (), b"")])
    assert rules("goose", "auth", bad) == ["goose.auth.refused"] * 2 + ["goose.auth.status-open"]


def test_goose_bad_input_wants_415_400_and_a_422_naming_the_field() -> None:
    good = [Fetched(415, (), b""), Fetched(400, (), b""), Fetched(422, (), b"missing messages")]
    assert rules("goose", "bad-input", Script(Fetch=good)) == []
    unnamed = [*good[:2], Fetched(422, (), b"nope")]
    assert rules("goose", "bad-input", Script(Fetch=unnamed)) == ["goose.bad-input.status"]
    assert (
        rules("goose", "bad-input", Script(Fetch=[Fetched(200, (), b"")]))
        == ["goose.bad-input.status"] * 3
    )


def test_goose_session_wants_both_turns_in_the_session() -> None:
    both = json.dumps({"messages": ["First turn of the session", "Second turn of the session"]})
    ok = Script(Talk=[Talked(())], Fetch=[Fetched(200, (), both.encode())])
    assert rules("goose", "session", ok) == []
    half = json.dumps({"messages": ["First turn of the session"]}).encode()
    assert rules("goose", "session", Script(Talk=[Talked(())], Fetch=[Fetched(200, (), half)])) == [
        "goose.session.history"
    ]
    gone = Script(Talk=[Talked(())], Fetch=[Fetched(404, (), b"")])
    assert rules("goose", "session", gone) == ["goose.session.history"]


def test_goose_heartbeat_needs_a_long_enough_reply() -> None:
    short = sse_transcript("goose", [b'data: {"type":"Ping"}\n\n'], end="complete", step_ms=10)
    refused = sse_transcript("goose", [], status=401)
    with pytest.raises(NotRun, match="too short"):
        rules("goose", "heartbeat", Script(Talk=[Talked(())]))
    assert rules("goose", "heartbeat", Script(Talk=[Talked((refused,))]))
    base = sse_transcript("goose", [b'data: {"type":"Ping"}\n\n'], end=None)
    slow = Transcript(base.header, (*base.records, End(2000.0, "complete")))
    assert "goose.ping.interval" in rules("goose", "heartbeat", Script(Talk=[Talked((slow,))]))
    assert short.end is not None


# --- sse-delta-done and message-stream --------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        (Fetched(422, (), b'{"detail": [{"loc": ["query", "message"]}]}'), []),
        (Fetched(400, (), b"missing message"), ["sse-delta-done.bad-input.422"]),
        (Fetched(422, (), b"missing message"), ["sse-delta-done.bad-input.422"]),
    ],
)
def test_sse_delta_done_wants_fastapis_422(answer: Fetched, found: list[str]) -> None:
    assert rules("sse-delta-done", "bad-input", Script(Fetch=[answer])) == found


def test_message_stream_empty_content_wants_422_detail() -> None:
    assert (
        rules("message-stream", "bad-input", Script(Fetch=[Fetched(422, (), b'{"detail":[]}')]))
        == []
    )
    assert rules("message-stream", "bad-input", Script(Fetch=[Fetched(200, (), b"")])) == [
        "message-stream.bad-input.empty"
    ]


def _turn(message_id: int) -> Transcript:
    read = {
        "id": message_id,
        "chat_id": 5,
        "role": "assistant",
        "created_at": "2024-01-01T00:00:00Z",
    }
    events = [
        {"type": "message_start", "message": {**read, "content": ""}},
        {"type": "message_delta", "message_id": message_id, "delta": "x"},
        {"type": "message_end", "message": {**read, "content": "x"}},
    ]
    chunks = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]
    return sse_transcript("message-stream", chunks)


def _history(*pairs: tuple[str, object]) -> bytes:
    rows = [
        {"role": role, "content": value, "id": 1} if role == "user" else {"role": role, "id": value}
        for role, value in pairs
    ]
    return json.dumps(rows).encode()


GOOD_HISTORY = _history(
    ("user", "First turn of the chat"),
    ("assistant", 11),
    ("user", "Second turn of the chat"),
    ("assistant", 12),
)


def test_message_stream_history_and_delete() -> None:
    after = json.dumps([{"id": 11}]).encode()
    answers = [
        Fetched(200, (), GOOD_HISTORY),
        Fetched(204, (), b""),
        Fetched(200, (), after),
        Fetched(404, (), b'{"detail": "Message not found"}'),
        Fetched(422, (), b"{}"),
    ]
    talked = Talked((_turn(11), _turn(12)))
    assert rules("message-stream", "history", Script(Talk=[talked], Fetch=answers)) == []
    wrong = [
        Fetched(200, (), _history(("assistant", 12))),
        Fetched(204, (), b""),
        Fetched(200, (), json.dumps([{"id": 12}]).encode()),
        Fetched(204, (), b""),
        Fetched(404, (), b""),
    ]
    assert rules("message-stream", "history", Script(Talk=[talked], Fetch=wrong)) == [
        "message-stream.history.order",
        "message-stream.delete.reply",
        "message-stream.delete.unknown",
        "message-stream.delete.non-integer",
    ]
    broken = Script(Talk=[talked], Fetch=[Fetched(500, (), b"")])
    assert rules("message-stream", "history", broken) == ["message-stream.history.order"]


def test_message_stream_history_needs_two_replies() -> None:
    with pytest.raises(NotRun, match="no message_end"):
        rules("message-stream", "history", Script(Talk=[Talked(())]))
    refused = sse_transcript("message-stream", [], status=500)
    found = rules("message-stream", "history", Script(Talk=[Talked((refused,))]))
    assert found[:1] == [NO_REPLY.id]


# --- WebSocket probes -------------------------------------------------------------------------

COMPLETE = Received(json.dumps({"type": "complete", "message_id": "bot_1"}))
ERROR = Received(json.dumps({"type": "error", "message": "bad"}))


def test_chunk_complete_bad_input_judges_each_answer() -> None:
    good = Script(
        Connect=[Connected(101)], Send=[Received()], Receive=[ERROR, Received()] * 4 + [COMPLETE]
    )
    assert rules("chunk-complete", "bad-input", good) == []
    ignored = Script(
        Connect=[Connected(101)], Send=[Received()], Receive=[Received()] * 8 + [COMPLETE]
    )
    assert rules("chunk-complete", "bad-input", ignored) == ["chunk-complete.bad-input.error"] * 4
    silent_after = Script(
        Connect=[Connected(101)], Send=[Received()], Receive=[ERROR, Received()] * 4 + [Received()]
    )
    assert rules("chunk-complete", "bad-input", silent_after) == [
        "chunk-complete.bad-input.stays-open"
    ]


def test_chunk_complete_bad_input_notes_a_close() -> None:
    closes = Script(
        Connect=[Connected(101)], Send=[Received()], Receive=[ERROR, Received(closed=True)]
    )
    assert rules("chunk-complete", "bad-input", closes) == ["chunk-complete.bad-input.stays-open"]
    gone = Script(Connect=[Connected(101)], Send=[Received(closed=True)], Receive=[Received()])
    assert rules("chunk-complete", "bad-input", gone) == ["chunk-complete.bad-input.stays-open"]
    with pytest.raises(NotRun, match="did not get ready"):
        rules("chunk-complete", "bad-input", Script(Connect=[Connected(403)]))


def _auth(second: Received, times: int = 3) -> Script:
    return Script(
        Connect=[Connected(101)],
        Send=[Received()],
        Receive=[ws("connected"), second, Received()] * times,
    )


def test_ws_events_auth_refuses_every_bad_token() -> None:
    assert rules("ws-events", "auth", _auth(ws("error", message="no"))) == []
    with_secret = _auth(ws("error", message="no"), times=4)
    assert rules("ws-events", "auth", with_secret, jwt_secret="s") == []
    sent = [json.loads(a.text) for a in with_secret.actions if isinstance(a, Send)]
    assert len(sent) == 4  # no token, another secret, alg:none, expired
    accepted = _auth(ws("authenticated", userId="u"))
    assert rules("ws-events", "auth", accepted) == ["ws-events.auth.refused"] * 3
    assert rules("ws-events", "auth", _auth(Received())) == ["ws-events.auth.refused"] * 3
    with pytest.raises(NotRun, match="refused"):
        rules("ws-events", "auth", Script(Connect=[Connected(403)]))


def test_ws_events_bad_input_starts_in_a_chat() -> None:
    opening = [
        ws("connected"),
        ws("authenticated", userId="u"),
        ws("chat_created", chatId="c", title="t"),
        ws("assistant_message_complete"),
    ]
    answers = [
        *opening,
        *[ws("error", message="x"), Received()] * 5,
        ws("assistant_message_complete"),
    ]
    script = Script(Connect=[Connected(101)], Send=[Received()], Receive=answers)
    assert rules("ws-events", "bad-input", script) == []
    with pytest.raises(NotRun):
        rules(
            "ws-events",
            "bad-input",
            Script(Connect=[Connected(101)], Send=[Received()], Receive=[Received()]),
        )
    with pytest.raises(NotRun):
        rules("ws-events", "bad-input", Script(Connect=[Connected(403)]))


def _chat(*messages: tuple[str, str]) -> Transcript:
    frames = [
        ("server", json.dumps({"type": kind, "data": json.loads(data)})) for kind, data in messages
    ]
    return ws_transcript("ws-events", frames)


def test_ws_events_history_wants_both_messages_on_join() -> None:
    created = _chat(("chat_created", '{"chatId": "c", "title": "t"}'))
    said = [
        {"role": "user", "content": "First message of the chat"},
        {"role": "user", "content": "Second message of the chat"},
    ]
    joined = _chat(
        ("connected", "{}"),
        ("chat_joined", json.dumps({"chatId": "c", "messages": said, "title": "t"})),
    )
    assert rules("ws-events", "history", Script(Talk=[Talked((created,)), Talked((joined,))])) == []
    half = _chat(("chat_joined", json.dumps({"chatId": "c", "messages": said[:1], "title": "t"})))
    assert rules("ws-events", "history", Script(Talk=[Talked((created,)), Talked((half,))])) == [
        "ws-events.history.join"
    ]
    none = ws_transcript("ws-events", [("server", "not json")])
    assert rules("ws-events", "history", Script(Talk=[Talked((created,)), Talked((none,))])) == [
        "ws-events.history.join"
    ]
    with pytest.raises(NotRun, match="no chat"):
        rules("ws-events", "history", Script(Talk=[Talked((none,))]))


# --- the framework ------------------------------------------------------------------------------


def test_helpers() -> None:
    answer = Fetched(200, (("Content-Type", "x"),), b"not json")
    assert (answer.header("content-type"), answer.json()) == ("x", None)
    assert types_of(["nope", "[1]", '{"type": 3}', '{"type": "a"}']) == ["?", "?", "?", "a"]
    exchange = probe("ws-events", "exchange")
    assert probe("ws-events", "bad-input").missing(ctx("ws-events", token=None)) == [
        "--token (or --jwt-secret)"
    ]
    spec = frozenset({"ws-events.order"})
    assert exchange.exercises("ws-events.order", spec)
    assert exchange.exercises(NO_REPLY.id)
    assert not exchange.exercises("ws-events.order")
    assert not probe("ws-events", "auth").exercises("ws-events.order")
    failing = verdict(exchange, [hit(NO_REPLY, "x")])
    assert failing.status == "fail"
    assert verdict(exchange, []).status == "pass"


def test_a_stalled_stream_is_a_finding() -> None:
    base = sse_transcript("sse-delta-done", [b'data: {"delta": "a"}\n\n'], end=None)
    stalled = Transcript(
        base.header, (*base.records, End(5.0, "timeout", "stalled: nothing arrived"))
    )
    found = [f.rule for f in stream_findings(get("sse-delta-done"), [stalled])]
    assert found[0] == stalled_rule("sse-delta-done").id


def test_selection_and_coverage() -> None:
    proto = get("goose")
    assert [p.name for p in select(proto, [], quick=True)] == ["exchange"]
    assert [p.name for p in select(proto, ["auth"], quick=False)] == ["auth"]
    assert len(select(proto, [], quick=False)) == len(suite(proto))
    with pytest.raises(ValueError, match="no probe 'nope'"):
        select(proto, ["nope"], quick=False)
    exchange = probe("goose", "exchange")
    refused = ProbeResult(exchange, "fail", (hit(NO_REPLY, "x"),))
    assert coverage(proto, [refused]).exercised == (NO_REPLY.id,)
    ran = coverage(
        proto, [ProbeResult(exchange, "pass"), ProbeResult(probe("goose", "auth"), "not run")]
    )
    assert "goose.auth.refused" not in ran.exercised
    assert "goose.schema.Error" in ran.unreachable
    assert "goose.order" in ran.exercised
    assert ran.line().startswith(
        f"rules exercised {len(ran.exercised)}/{len(suite_rules(proto))}; "
    )
    assert unreachable(get("ws-events")) == ()


def test_a_protocol_without_its_own_probes_gets_the_shared_ones() -> None:
    class Other:
        name = "other"
        credentials_hint = None
        transport = "sse"
        spec = get("goose").spec

    other = Other()
    assert [p.name for p in suite(other)] == ["exchange", "conversation"]  # type: ignore[arg-type]
    assert unreachable(other) == ()  # type: ignore[arg-type]


# --- baselines ---------------------------------------------------------------------------------


def test_a_baseline_lets_known_findings_pass_and_goes_stale() -> None:
    auth = probe("goose", "auth")
    finding = hit(auth.rules[0], "no key: HTTP 200")
    results = [
        ProbeResult(auth, "fail", (finding,)),
        ProbeResult(probe("goose", "session"), "not run"),
    ]
    text = baseline.dump("goose", results)
    known = baseline.load(text)
    assert known == {("auth", "goose.auth.refused")}
    applied, stale = baseline.apply(results, known | {("session", "goose.session.history")})
    assert applied[0].status == "pass"
    assert applied[0].known == (finding,)
    assert stale == []
    fixed = [ProbeResult(auth, "pass")]
    assert baseline.apply(fixed, known)[1] == [("auth", "goose.auth.refused")]


@pytest.mark.parametrize("text", ["nope", "[]", '{"known": [{"probe": 1}]}'])
def test_a_broken_baseline_says_what_it_expected(text: str) -> None:
    with pytest.raises(baseline.BaselineError):
        baseline.load(text)


def test_binary_frames_while_waiting_for_quiet_are_passed_over() -> None:
    answers = [ERROR, Received(b"\x00"), Received()] * 4 + [COMPLETE]
    script = Script(Connect=[Connected(101)], Send=[Received()], Receive=answers)
    assert rules("chunk-complete", "bad-input", script) == []
