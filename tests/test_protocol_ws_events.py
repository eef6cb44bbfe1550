"""ws-events: seed 001's exchanges pass; each rule has a transcript that breaks only it; the
server side answers like the seed's Node server and keeps chat history across connections."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from streamctl.core.check import check
from streamctl.core.jwt import encode as sign
from streamctl.core.protocols import get
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Settings, Turn, Update
from streamctl.core.protocols.ws_events import PROTOCOL, Session, State, encode
from streamctl.core.protocols.ws_events.server import WsEventsSettings
from streamctl.core.script import FailurePoint, Script, Token, ToolCall, default_reply
from streamctl.core.transcript import Sender
from tests.builders import ws_transcript

NAME = "ws-events"
SECRET = "test-jwt-secret"
NOW = 1_700_000_000.0
STAMP = "2023-11-14T22:13:20.000Z"  # NOW as Date.toISOString() writes it
SETTINGS = Settings(clock=lambda: NOW, protocols={"ws-events": WsEventsSettings(SECRET)})
TOKEN = sign({"userId": "user-id", "exp": NOW + 3600}, SECRET)

Message = tuple[Sender, str | bytes]


def server(kind: str, **data: object) -> Message:
    return ("server", encode(kind, dict(data)))


def client(kind: str, **data: object) -> Message:
    return ("client", encode(kind, dict(data)))


def said(kind: str, message_id: str, content: str, **extra: object) -> Message:
    role = "user" if kind == "user_message" else "assistant"
    fields = {"messageId": message_id, "content": content, "role": role, "timestamp": STAMP}
    return server(kind, **{**fields, **extra})


def rules_of(messages: Sequence[Message], **kw: object) -> list[str]:
    return [f.rule for f in check(ws_transcript(NAME, messages, **kw))]  # type: ignore[arg-type]


CONNECTED = server("connected", message="WebSocket connection established")
OPEN: list[Message] = [
    CONNECTED,
    client("join_chat", token=TOKEN, chatId="chat-id"),
    server("authenticated", userId="user-id"),
    server("chat_joined", chatId="chat-id", messages=[], title="Chat title"),
]


def turn(
    text: str = "Текст сообщения",
    tokens: Sequence[str] = ("Полный", " текст", " ответа"),
    n: int = 1,
) -> list[Message]:
    """One good turn: the client's message, its echo, and the streamed reply."""
    return [
        client("message", message=text),
        said("user_message", f"user-{n}", text),
        server("assistant_message_start", message="Ассистент печатает..."),
        *(server("assistant_message_token", token=t) for t in tokens),
        said("assistant_message_complete", f"assistant-{n}", "".join(tokens)),
    ]


GOOD = [*OPEN, *turn()]

# The seed's server messages exactly as it prints them (pretty-printed JSON).
SEED_CONNECTED = (
    '{\n  "type": "connected",\n  "data": { "message": "WebSocket connection established" }\n}'
)
SEED_CREATED = (
    '{\n  "type": "chat_created",\n  "data": {\n    "chatId": "new-chat-id",\n'
    '    "title": "Новый чат"\n  }\n}'
)
SEED_ERROR = '{\n  "type": "error",\n  "data": { "message": "Описание ошибки" }\n}'


# --- the seed's exchanges -----------------------------------------------------------------


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(GOOD, id="join-and-one-turn"),
        pytest.param(
            [
                ("server", SEED_CONNECTED),
                client("create_chat", token=TOKEN),
                server("authenticated", userId="user-id"),
                ("server", SEED_CREATED),
                *turn("Привет!"),
            ],
            id="seed-create-chat",
        ),
        pytest.param(
            # The seed's browser test: join_chat with only a token.
            [
                CONNECTED,
                client("join_chat", token=TOKEN),
                server("authenticated", userId="user-id"),
                server("chat_joined", chatId="c1", messages=[], title="Новый чат"),
            ],
            id="seed-browser-test",
        ),
        pytest.param([*GOOD, *turn("second", ("b",), n=2)], id="two-turns"),
        pytest.param(
            [CONNECTED, ("client", "{oops"), ("server", SEED_ERROR), *OPEN[1:], *turn()],
            id="error-between-turns",
        ),
        pytest.param(
            [*OPEN, *turn()[:4], server("error", message="OpenAI failed"), *turn(n=2)],
            id="error-mid-turn",
        ),
        pytest.param(
            [*OPEN, *turn()[:2], server("error", message="OpenAI failed"), *turn(n=2)],
            id="error-before-start",
        ),
        pytest.param(
            [*OPEN, client("message", message=""), server("error", message="empty"), *turn()],
            id="rejected-message-then-turn",
        ),
        pytest.param(
            [
                *OPEN,
                server("authenticated", userId="user-id"),
                server("chat_created", chatId="c2", title="Новый чат"),
            ],
            id="second-chat-on-one-connection",
        ),
        pytest.param(
            [
                *OPEN[:3],
                server(
                    "chat_joined",
                    chatId="chat-id",
                    messages=[
                        {"role": "user", "content": "hi", "_id": "65a0"},
                        {"role": "assistant", "content": "hello", "_id": "65a1"},
                    ],
                    title="hi",
                ),
            ],
            id="history-as-mongo-documents",
        ),
        pytest.param([m for m in GOOD if m[0] == "server"], id="server-side-only-recording"),
        pytest.param(
            [
                *OPEN,
                *turn()[:4],
                said(
                    "assistant_message_complete",
                    "a",
                    "Полный",
                    timestamp="2024-01-01T03:00:00+03:00",
                ),
            ],
            id="timestamp-with-offset",
        ),
    ],
)
def test_the_seeds_exchanges_have_no_findings(messages: list[Message]) -> None:
    assert rules_of(messages) == []


# --- one transcript per rule --------------------------------------------------------------

TURN = turn()

BREAKS: dict[str, list[Message] | tuple[list[Message], dict[str, object]]] = {
    "ws.handshake": ([], {"status": 403}),
    "ws.text": [*GOOD, ("server", b"\x00\x01")],
    "ws-events.json": [*GOOD, ("server", "{not json")],
    "ws-events.envelope": [*GOOD, ("server", json.dumps({"data": {"message": "x"}}))],
    "ws-events.type.unknown": [*GOOD, server("message", message="x")],
    "ws-events.schema.connected": [server("connected"), *GOOD[1:]],
    "ws-events.schema.authenticated": [*OPEN[:2], server("authenticated", userId=""), *GOOD[3:]],
    "ws-events.schema.chat_joined": [
        *OPEN[:3],
        server("chat_joined", chatId="c", messages=[{"role": "bot", "content": "x"}], title="t"),
    ],
    "ws-events.schema.chat_created": [*OPEN[:3], server("chat_created", chatId=7, title="t")],
    "ws-events.schema.user_message": [
        *OPEN,
        TURN[0],
        server(
            "user_message", messageId=5, content="Текст сообщения", role="user", timestamp=STAMP
        ),
        *TURN[2:],
    ],
    "ws-events.schema.assistant_message_start": [
        *OPEN,
        *TURN[:2],
        server("assistant_message_start", message=None),
        *TURN[3:],
    ],
    "ws-events.schema.assistant_message_token": [
        *OPEN,
        *TURN[:3],
        server("assistant_message_token", token=5),
        server("error", message="failed"),
    ],
    "ws-events.schema.assistant_message_complete": [
        *GOOD[:-1],
        said("assistant_message_complete", "assistant-1", "Полный текст ответа", timestamp=5),
    ],
    "ws-events.schema.error": [*GOOD, server("error", message=["x"])],
    "ws-events.order": [*GOOD, CONNECTED],
    "ws-events.order.authenticated": [*OPEN[:2], OPEN[3], *GOOD[4:]],
    "ws-events.incomplete": GOOD[:-1],
    "ws-events.content.tokens": [
        *GOOD[:-1],
        said("assistant_message_complete", "assistant-1", "Полный текст"),
    ],
    "ws-events.content.user-echo": [*OPEN, TURN[0], said("user_message", "u", "other"), *TURN[2:]],
    "ws-events.message-id.unique": [
        *GOOD[:-1],
        said("assistant_message_complete", "user-1", "Полный текст ответа"),
    ],
    "ws-events.timestamp": [
        *OPEN,
        TURN[0],
        said("user_message", "user-1", "Текст сообщения", timestamp="2024-01-01 00:00:00"),
        *TURN[2:],
    ],
}

# Other ways to break the same rules, each yielding exactly that rule.
ALSO_BREAKS: list[tuple[str, list[Message]]] = [
    ("ws-events.json", [*GOOD, ("server", "[1, 2]")]),
    ("ws-events.envelope", [*GOOD, ("server", json.dumps({"type": "error", "data": "x"}))]),
    ("ws-events.order", [server("authenticated", userId="u"), *GOOD]),
    ("ws-events.order", [server("error", message="too early"), *GOOD]),
    ("ws-events.order.authenticated", [*OPEN[:2], OPEN[3]]),  # a SHOULD (the seed is silent)
    # One extra frame is one finding: the walk re-synchronises after it.
    ("ws-events.order", [*OPEN, *TURN[:3], TURN[2], *TURN[3:]]),  # assistant_message_start twice
    ("ws-events.order", [*OPEN, *TURN[:2], *TURN[3:]]),  # assistant_message_start missing
    ("ws-events.incomplete", []),
    ("ws-events.incomplete", GOOD[:6]),
    ("ws-events.content.user-echo", [*OPEN, *TURN[1:]]),  # the client sent no message
    ("ws-events.content.user-echo", [*GOOD, *turn(n=2)[1:]]),  # one message, echoed twice
    ("ws-events.content.user-echo", [*OPEN, *TURN[1:], TURN[0]]),  # echoed before it was sent
    (
        "ws-events.timestamp",
        [
            *GOOD[:-1],
            said(
                "assistant_message_complete",
                "a",
                "Полный текст ответа",
                timestamp="2024-13-01T00:00:00.000Z",
            ),
        ],
    ),
]


def test_every_rule_has_a_breaking_transcript() -> None:
    assert sorted(BREAKS) == sorted(rule.id for rule in PROTOCOL.spec.rules)


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_breaking_one_rule_yields_exactly_that_finding(rule: str) -> None:
    case = BREAKS[rule]
    messages, kw = case if isinstance(case, tuple) else (case, {})
    assert rules_of(messages, **kw) == [rule]


@pytest.mark.parametrize(("rule", "messages"), ALSO_BREAKS)
def test_other_ways_of_breaking_a_rule(rule: str, messages: list[Message]) -> None:
    assert rules_of(messages) == [rule]


def test_a_finding_cites_the_seed_and_the_frame() -> None:
    (finding,) = check(ws_transcript(NAME, BREAKS["ws-events.content.tokens"]))  # type: ignore[arg-type]
    assert finding.frame == len(GOOD) - 1
    assert "'Полный текст ответа'" in finding.message
    assert finding.source == "docs/protocols/ws-events.md"


# --- the server side ----------------------------------------------------------------------


@dataclass
class Connection:
    """A sans-I/O stand-in for the mock server's WebSocket route, recording both directions."""

    state: State
    scripts: Sequence[Script] = (default_reply("x"),)
    completed: bool = True
    log: list[Message] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)

    def __post_init__(self) -> None:
        session = PROTOCOL.open(self.state)
        assert isinstance(session, Session)
        self.session = session
        self.log += [("server", m) for m in session.greeting()]

    def send(self, text: str) -> list[str]:
        """The client sends ``text``; the server's answer (and reply, if any) is returned."""
        self.log.append(("client", text))
        reaction = self.session.receive(text)
        answer = list(reaction.send)
        if reaction.turn is not None:
            self.turns.append(reaction.turn)
            script = self.scripts[min(reaction.turn.index, len(self.scripts) - 1)]
            answer += [str(out.payload) for out in self.session.render(script, reaction.turn)]
            self.session.finish(reaction.turn, script, self.completed)
        self.log += [("server", m) for m in answer]
        return answer

    def ask(self, kind: str, **data: object) -> list[dict[str, object]]:
        return [json.loads(m) for m in self.send(encode(kind, dict(data)))]

    def findings(self) -> list[str]:
        return rules_of(self.log)


@dataclass
class Heard:
    text: str = ""
    errors: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    done: bool = False


def exchange(conn: Connection, session: ClientSession) -> Heard:
    """Run one client exchange over ``conn`` the way the CLI adapter does."""
    heard = Heard()
    pending = list(session.opening())
    while pending:
        for answer in conn.send(pending.pop(0)):
            update = session.on_message(answer)
            assert not heard.done, "nothing may follow the end of the reply"
            heard.text += update.text
            heard.errors += [update.error] if update.error else []
            heard.infos += [update.info] if update.info else []
            heard.done = update.done
            pending += update.send
    return heard


def new_state() -> State:
    state = PROTOCOL.new_state(SETTINGS)
    assert isinstance(state, State)
    return state


def options(message: str = "hello there", **kw: object) -> ClientOptions:
    return ClientOptions(message, token=TOKEN, **kw)  # type: ignore[arg-type]


TOKENS = (Token("Hel"), Token("lo"), Token(" world"))


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(default_reply("hello there"), id="default-reply"),
        pytest.param(Script(TOKENS, tool=ToolCall("lookup", after=1)), id="tool-call"),
        pytest.param(Script(TOKENS, error=FailurePoint("boom", after=0)), id="error-before-start"),
        pytest.param(Script(TOKENS, error=FailurePoint("boom", after=2)), id="error-mid-stream"),
        pytest.param(Script(()), id="empty-reply"),
    ],
)
def test_every_rendered_script_passes_and_reassembles(script: Script) -> None:
    conn = Connection(new_state(), (script,))
    heard = exchange(conn, PROTOCOL.client(options()))
    assert conn.findings() == []
    assert (heard.text, heard.done) == (script.text, True)
    assert heard.errors == ([script.error.message] if script.error else [])
    assert heard.infos == ["chat chat_1"]


def test_a_multi_turn_conversation_passes_and_plays_each_turn() -> None:
    scripts = (Script((Token("one"),)), Script((Token("two"), Token("!"))))
    conn = Connection(new_state(), scripts)
    first = exchange(conn, PROTOCOL.client(options("first")))
    # The next turn goes over the same connection and chat, as `streamctl chat` does.
    second = exchange(conn, PROTOCOL.client(options("second", chat="chat_1")))
    assert (first.text, second.text) == ("one", "two!")
    assert [t.index for t in conn.turns] == [0, 1]
    assert {t.conversation for t in conn.turns} == {"chat_1"}
    assert conn.findings() == []


def test_render_marks_token_indexes_and_the_terminal_write() -> None:
    conn = Connection(new_state())
    conn.ask("create_chat", token=TOKEN)
    reaction = conn.session.receive(encode("message", {"message": "hi"}))
    assert reaction.turn is not None
    outs = conn.session.render(Script(TOKENS), reaction.turn)
    assert [o.token for o in outs] == [None, 0, 1, 2, None]
    assert [o.terminal for o in outs] == [False, False, False, False, True]
    failed = conn.session.render(Script(TOKENS, error=FailurePoint("x", 1)), reaction.turn)
    assert [(o.token, o.terminal) for o in failed] == [(None, False), (0, False), (None, True)]
    # An error after 0 tokens: the reply never started, so no assistant_message_start.
    (never,) = conn.session.render(Script(TOKENS, error=FailurePoint("x", 0)), reaction.turn)
    assert (never.payload, never.terminal) == (encode("error", {"message": "x"}), True)


def test_the_wire_format_is_what_the_node_server_writes() -> None:
    conn = Connection(new_state())
    assert conn.log == [
        ("server", '{"type":"connected","data":{"message":"WebSocket connection established"}}')
    ]
    assert conn.send(encode("create_chat", {"token": TOKEN})) == [
        '{"type":"authenticated","data":{"userId":"user-id"}}',
        '{"type":"chat_created","data":{"chatId":"chat_1","title":"Новый чат"}}',
    ]
    user, start, *_ = conn.ask("message", message="Привет")
    assert user == {
        "type": "user_message",
        "data": {"messageId": "msg_1", "content": "Привет", "role": "user", "timestamp": STAMP},
    }
    assert start == {
        "type": "assistant_message_start",
        "data": {"message": "Assistant is typing..."},
    }


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("{oops", "Invalid message format: not JSON"),
        ("[1, 2]", "Invalid message format: expected {type, data}"),
        ('{"type": "subscribe", "data": {}}', "Unknown message type: subscribe"),
        ('{"type": ["message"], "data": {}}', "Unknown message type: ['message']"),
        ('{"data": {"message": "hi"}}', "Unknown message type: None"),
        ('{"type": "message", "data": "hi"}', "Invalid message format: 'data' must be an object"),
        ('{"type": "message"}', "Invalid message format: 'data' must be an object"),
    ],
)
def test_a_malformed_frame_gets_an_error_and_the_connection_stays_usable(
    text: str, answer: str
) -> None:
    conn = Connection(new_state())
    assert conn.ask("create_chat", token=TOKEN)[-1]["type"] == "chat_created"
    assert [json.loads(m) for m in conn.send(text)] == [
        {"type": "error", "data": {"message": answer}}
    ]
    assert conn.ask("message", message="still here")[0]["type"] == "user_message"
    assert conn.findings() == []


def token(claims: dict[str, object], secret: str = SECRET) -> str:
    return sign(claims, secret)


ALG_NONE = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        ({}, "Authentication required: no token"),
        ({"token": None}, "Authentication required: no token"),
        ({"token": ""}, "Authentication required: no token"),
        ({"token": "not-a-jwt"}, "Authentication failed: malformed token"),
        ({"token": token({"userId": "u"}, "wrong")}, "Authentication failed: invalid signature"),
        ({"token": token({"userId": "u", "exp": NOW})}, "Authentication failed: token expired"),
        ({"token": token({"userId": "u", "nbf": NOW + 1})}, "Authentication failed: token not"),
        ({"token": f"{ALG_NONE}.e30."}, "Authentication failed: unsupported algorithm 'none'"),
        ({"token": token({"name": "u"})}, "Authentication failed: the token names no user"),
        ({"token": token({"userId": "", "sub": True})}, "Authentication failed: the token names"),
    ],
)
@pytest.mark.parametrize("kind", ["join_chat", "create_chat"])
def test_a_bad_missing_or_expired_token_gets_an_error_and_no_chat(
    kind: str, data: dict[str, object], answer: str
) -> None:
    state = new_state()
    conn = Connection(state)
    (reply,) = conn.ask(kind, **data)
    assert reply["type"] == "error"
    assert str(reply["data"]["message"]).startswith(answer)  # type: ignore[index]
    assert state.chats == {}
    assert conn.ask("message", message="hi") == [
        {"type": "error", "data": {"message": "Join or create a chat before sending messages"}}
    ]
    assert conn.findings() == []


@pytest.mark.parametrize(
    ("claims", "user"),
    [
        ({"userId": "65a0f", "sub": "other"}, "65a0f"),
        ({"sub": "auth0|42"}, "auth0|42"),
        ({"id": 42}, "42"),
        ({"userId": None, "sub": "", "id": "x"}, "x"),
    ],
)
def test_the_user_comes_from_userid_then_sub_then_id(claims: dict[str, object], user: str) -> None:
    conn = Connection(new_state())
    assert conn.ask("join_chat", token=token(claims))[0] == {
        "type": "authenticated",
        "data": {"userId": user},
    }


def test_join_without_a_chat_id_opens_a_new_empty_chat() -> None:
    state = new_state()
    conn = Connection(state)
    assert conn.ask("join_chat", token=TOKEN)[1] == {
        "type": "chat_joined",
        "data": {"chatId": "chat_1", "messages": [], "title": "Новый чат"},
    }
    assert state.chats["chat_1"].owner == "user-id"
    assert conn.findings() == []


@pytest.mark.parametrize("chat_id", ["chat_99", 7, ["chat_1"]])
def test_an_unknown_chat_is_not_found_after_authentication(chat_id: object) -> None:
    state = new_state()
    Connection(state).ask("create_chat", token=TOKEN)
    conn = Connection(state)
    assert conn.ask("join_chat", token=TOKEN, chatId=chat_id) == [
        {"type": "authenticated", "data": {"userId": "user-id"}},
        {"type": "error", "data": {"message": "Chat not found"}},
    ]
    assert conn.ask("message", message="hi")[0]["type"] == "error"
    assert conn.findings() == []


def test_another_users_chat_is_not_found_and_switching_user_leaves_the_chat() -> None:
    state = new_state()
    conn = Connection(state)
    conn.ask("create_chat", token=TOKEN)
    conn.ask("message", message="private")
    mallory = token({"userId": "mallory"})
    assert conn.ask("join_chat", token=mallory, chatId="chat_1")[1]["data"] == {
        "message": "Chat not found"
    }
    assert conn.ask("message", message="hi")[0]["type"] == "error"
    assert history(state) == [("user", "private"), ("assistant", default_reply("x").text)]
    assert conn.findings() == []


def test_create_chat_authenticates_only_when_not_already_that_user() -> None:
    conn = Connection(new_state())
    kinds = [m["type"] for m in conn.ask("create_chat", token=TOKEN)]
    kinds += [m["type"] for m in conn.ask("create_chat", token=TOKEN)]
    kinds += [m["type"] for m in conn.ask("create_chat", token=token({"userId": "bob"}))]
    assert kinds == [
        "authenticated",
        "chat_created",
        "chat_created",
        "authenticated",
        "chat_created",
    ]
    assert conn.findings() == []


@pytest.mark.parametrize("data", [{}, {"message": ""}, {"message": "  \n"}, {"message": 5}])
def test_an_empty_or_non_string_message_gets_an_error(data: dict[str, object]) -> None:
    conn = Connection(new_state())
    conn.ask("create_chat", token=TOKEN)
    assert conn.ask("message", **data) == [
        {"type": "error", "data": {"message": "Message must be a non-empty string"}}
    ]
    assert conn.turns == []
    assert conn.findings() == []


def history(state: State, chat_id: str = "chat_1") -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in state.chats[chat_id].messages]


def test_a_chat_keeps_its_history_and_rejoining_returns_it() -> None:
    state = new_state()
    conn = Connection(state, (Script((Token("Hi"), Token("!"))),))
    conn.ask("create_chat", token=TOKEN)
    *_, complete = conn.ask("message", message="Hello")
    (_, joined) = Connection(state).ask("join_chat", token=TOKEN, chatId="chat_1")
    assert joined["data"] == {
        "chatId": "chat_1",
        "messages": [
            {"messageId": "msg_1", "content": "Hello", "role": "user", "timestamp": STAMP},
            complete["data"],
        ],
        "title": "Hello",
    }
    assert complete["data"] == {
        "messageId": "msg_2",
        "content": "Hi!",
        "role": "assistant",
        "timestamp": STAMP,
    }


def test_a_client_that_drops_mid_turn_and_rejoins_finds_its_message() -> None:
    state = new_state()
    dropped = Connection(state, completed=False)
    dropped.ask("create_chat", token=TOKEN)
    reaction = dropped.session.receive(encode("message", {"message": "are you there?"}))
    assert reaction.turn is not None
    dropped.session.render(default_reply("x"), reaction.turn)
    # The client reconnects (with backoff) before the old connection noticed it left.
    rejoined = Connection(state)
    (_, joined) = rejoined.ask("join_chat", token=TOKEN, chatId="chat_1")
    assert joined["data"]["messages"][0]["content"] == "are you there?"  # type: ignore[index]
    dropped.session.finish(reaction.turn, default_reply("x"), completed=False)
    assert history(state) == [("user", "are you there?")]
    # The next turn on the new connection is the chat's second.
    rejoined.ask("message", message="again")
    assert rejoined.turns[0].index == 1
    reply = default_reply("x").text
    assert history(state) == [("user", "are you there?"), ("user", "again"), ("assistant", reply)]
    assert rejoined.findings() == []


def test_a_failed_reply_stores_no_assistant_message() -> None:
    state = new_state()
    conn = Connection(state, (Script(TOKENS, error=FailurePoint("boom", 1)),))
    conn.ask("create_chat", token=TOKEN)
    conn.ask("message", message="hi")
    assert history(state) == [("user", "hi")]


@pytest.mark.parametrize(
    ("first", "title"),
    [
        ("What is the   weather\nin Paris?", "What is the weather in Paris?"),
        ("x" * 50, "x" * 50),
        ("y" * 51, "y" * 50 + "..."),
    ],
)
def test_the_title_comes_from_the_first_message(first: str, title: str) -> None:
    state = new_state()
    conn = Connection(state)
    conn.ask("create_chat", token=TOKEN)
    conn.ask("message", message=first)
    conn.ask("message", message="a later message")
    assert state.chats["chat_1"].title == title


def test_ids_are_counters_in_the_state_shared_by_every_connection() -> None:
    state = new_state()
    one, two = Connection(state), Connection(state)
    one.ask("create_chat", token=TOKEN)
    two.ask("create_chat", token=TOKEN)
    two.ask("message", message="hi")
    assert sorted(state.chats) == ["chat_1", "chat_2"]
    assert [m["messageId"] for m in state.chats["chat_2"].messages] == ["msg_1", "msg_2"]
    assert new_state().mint("chat") == "chat_1"


# --- the client side ----------------------------------------------------------------------


def test_the_client_creates_a_chat_or_joins_the_one_given() -> None:
    assert PROTOCOL.client(options()).opening() == [encode("create_chat", {"token": TOKEN})]
    assert PROTOCOL.client(options(chat="c9")).opening() == [
        encode("join_chat", {"token": TOKEN, "chatId": "c9"})
    ]


def test_without_a_token_the_client_still_asks_and_shows_the_servers_error() -> None:
    session = PROTOCOL.client(ClientOptions("hi"))
    assert session.opening() == [encode("create_chat", {})]
    heard = exchange(Connection(new_state()), session)
    assert (heard.errors, heard.done, heard.text) == (
        ["Authentication required: no token"],
        True,
        "",
    )


def test_the_client_sends_its_message_once_the_chat_is_ready() -> None:
    session = PROTOCOL.client(options("what?"))
    joined = encode("chat_joined", {"chatId": "c1", "messages": [], "title": "t"})
    assert session.on_message(joined) == Update(
        send=(encode("message", {"message": "what?"}),), info="chat c1"
    )


@pytest.mark.parametrize(
    ("text", "update"),
    [
        ("{oops", Update(info="ignored a non-JSON message: '{oops'")),
        ("[1]", Update(info="ignored a message without {type, data}: '[1]'")),
        (
            '{"type": "error"}',
            Update(info='ignored a message without {type, data}: \'{"type": "error"}\''),
        ),
        (encode("authenticated", {"userId": "u"}), Update()),
        (encode("user_message", {"content": "x"}), Update()),
        (encode("assistant_message_token", {"token": "ab"}), Update(text="ab")),
        (encode("assistant_message_token", {"token": 5}), Update()),
        (encode("assistant_message_complete", {"content": "ab"}), Update(done=True)),
        (encode("error", {"message": "nope"}), Update(error="nope", done=True)),
    ],
)
def test_the_client_reads_every_server_message(text: str, update: Update) -> None:
    assert PROTOCOL.client(options()).on_message(text) == update


def test_the_registry_knows_ws_events() -> None:
    assert get(NAME) is PROTOCOL
    assert PROTOCOL.stream_endpoint.path == "/ws/chat"
    assert PROTOCOL.transport == "ws"
    assert datetime.fromisoformat(STAMP) == datetime.fromtimestamp(NOW, UTC)
