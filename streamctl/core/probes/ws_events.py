"""ws-events' own probes (seed 001, PROTOCOLS.md §2): bad tokens, malformed messages and a
chat's history on join."""

from __future__ import annotations

import json
import secrets
from collections.abc import Generator

from streamctl.core import jwt
from streamctl.core.probe import (
    Action,
    Context,
    NotRun,
    Observation,
    Plan,
    Probe,
    collect,
    connect,
    hit,
    probe_rule,
    receive,
    reply_to,
    send,
    talk,
    types_of,
    ws_bad_input,
)
from streamctl.core.protocols.client import ClientSession
from streamctl.core.spec import Finding
from streamctl.core.transcript import Transcript

__all__ = ["PROBES", "UNREACHABLE"]

NAME = "ws-events"
# "A bad, expired or missing token gets error and no chat."
REFUSED = probe_rule(
    NAME,
    "auth.refused",
    "A missing token, one signed with another secret, an expired one and an alg:none one each "
    "get error, and neither authenticated nor a chat.",
)
# "Malformed JSON or an unknown type gets error; the connection stays usable."
ANSWERS = probe_rule(NAME, "bad-input.error", "A malformed message gets an error message.")
STAYS_OPEN = probe_rule(
    NAME, "bad-input.stays-open", "After a malformed message the connection stays usable."
)
# "Chats keep their history: join_chat with an existing chatId returns its messages."
HISTORY = probe_rule(
    NAME, "history.join", "join_chat with an existing chatId returns the chat's messages."
)
CASES = (
    ("a message that is not JSON", "this is not JSON"),
    ("an unknown type", json.dumps({"type": "no_such_type", "data": {}})),
    ("a message without 'message'", json.dumps({"type": "message", "data": {}})),
    ("an empty 'message'", json.dumps({"type": "message", "data": {"message": ""}})),
    ("a non-string 'message'", json.dumps({"type": "message", "data": {"message": 42}})),
)


def bad_tokens(ctx: Context) -> list[tuple[str, str | None]]:
    """``(what, token)`` for every token the server must refuse (``None``: no token). The
    expired one needs the real secret (``--jwt-secret``), else it would fail on its signature."""
    claims = {"userId": "streamctl-probe", "iat": int(ctx.now), "exp": int(ctx.now) + 600}
    tokens: list[tuple[str, str | None]] = [
        ("no token", None),
        ("a token signed with another secret", jwt.encode(claims, secrets.token_hex(16))),
        (
            "an alg:none token",
            f"{jwt.segment({'alg': 'none', 'typ': 'JWT'})}.{jwt.segment(claims)}.",
        ),
    ]
    if ctx.jwt_secret:
        old = {**claims, "iat": int(ctx.now) - 7200, "exp": int(ctx.now) - 3600}
        tokens.append(("an expired token", jwt.encode(old, ctx.jwt_secret)))
    return tokens


def _one_token(
    ctx: Context, what: str, token: str | None
) -> Generator[Action, Observation, list[Finding]]:
    if (yield from connect(ctx.options.headers)) != 101:
        raise NotRun("the WebSocket upgrade was refused (see the exchange probe)")
    yield from receive()  # connected
    yield from send(
        json.dumps({"type": "create_chat", "data": {} if token is None else {"token": token}})
    )
    first = yield from receive()
    more, _ = yield from collect(0.05)
    got = types_of([m for m in (first.message, *more) if isinstance(m, str)])
    if "authenticated" in got or "chat_created" in got:
        return [hit(REFUSED, f"{what} was accepted (the server sent {', '.join(got)})")]
    if "error" not in got:
        return [
            hit(REFUSED, f"{what} got no error (the server sent {', '.join(got) or 'nothing'})")
        ]
    return []


def _auth(ctx: Context) -> Plan:
    found: list[Finding] = []
    for what, token in bad_tokens(ctx):
        found += yield from _one_token(ctx, what, token)
    return found


def _bad_input(ctx: Context) -> Plan:
    def ready() -> Generator[Action, Observation, ClientSession | None]:
        if (yield from connect(ctx.options.headers)) != 101:
            return None
        session = ctx.proto.client(ctx.options)
        _, ended = yield from reply_to(session)
        return session.follow_up("And after the malformed messages?") if ended else None

    return (yield from ws_bad_input(ctx, CASES, ANSWERS, STAYS_OPEN, ready))


def _data(transcript: Transcript, kind: str) -> dict[str, object] | None:
    for _, frame in transcript.frames("server"):
        try:
            obj = json.loads(frame.payload)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") == kind and isinstance(obj.get("data"), dict):
            data: dict[str, object] = obj["data"]
            return data
    return None


def _history(ctx: Context) -> Plan:
    texts = ("First message of the chat", "Second message of the chat")
    (first,) = yield from talk(ctx, *texts)
    created = _data(first, "chat_created")
    if created is None or not isinstance(created.get("chatId"), str):
        raise NotRun("no chat was created (see the exchange probe)")
    (second,) = yield from talk(ctx, "Third, after joining", chat=created["chatId"])
    joined = _data(second, "chat_joined")
    messages = joined.get("messages") if joined else None
    if not isinstance(messages, list):
        return [hit(HISTORY, "join_chat got no chat_joined with a messages list")]
    said = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if [t for t in texts if t in said] != list(texts):
        return [hit(HISTORY, f"the joined chat's user messages are {said!r}, not {list(texts)!r}")]
    return []


PROBES = (
    Probe(
        "auth",
        "auth",
        "No token, one signed with another secret, alg:none, and (with --jwt-secret) an "
        "expired one: each gets error and no authenticated / chat.",
        _auth,
        rules=(REFUSED,),
        covers=(f"{NAME}.schema.error", f"{NAME}.schema.connected"),
    ),
    Probe(
        "bad-input",
        "bad-input",
        "Not JSON, an unknown type, a missing / empty / non-string message: each gets error, "
        "and the connection answers the next message.",
        _bad_input,
        rules=(ANSWERS, STAYS_OPEN),
        covers=(f"{NAME}.schema.error",),
        needs=("token",),
    ),
    Probe(
        "history",
        "state",
        "Two turns in a new chat, then join_chat with its id on a new connection: both "
        "messages come back in chat_joined.",
        _history,
        rules=(HISTORY,),
        covers=(f"{NAME}.schema.chat_joined",),
        needs=("token",),
    ),
)
UNREACHABLE: tuple[str, ...] = ()
