"""message-stream's own probes (seed 004, PROTOCOLS.md §5): history, DELETE, validation and
NDJSON negotiation."""

from __future__ import annotations

import json
import secrets
from typing import Any

from streamctl.core.probe import (
    Context,
    NotRun,
    Plan,
    Probe,
    fetch,
    hit,
    probe_rule,
    stream_findings,
    talk,
)
from streamctl.core.spec import Finding
from streamctl.core.transcript import Transcript

__all__ = ["PROBES", "UNREACHABLE"]

NAME = "message-stream"
BASE = "/api/web/v1/chats/{chat}/messages"
# "History: GET … → [MessageRead…] oldest first, including the user message and the streamed
# assistant message once it ended (the client reloads to get real ids)."
HISTORY = probe_rule(
    NAME,
    "history.order",
    "History lists the chat's messages oldest first: each user message, then its reply, "
    "with the ids the stream carried.",
)
# "DELETE … → 204; unknown id → 404. Non-integer ids → 422. Errors use FastAPI's {"detail"}."
DELETE = probe_rule(NAME, "delete.reply", "DELETE of a message answers 204 and it is gone.")
UNKNOWN = probe_rule(NAME, "delete.unknown", 'DELETE of an unknown id answers 404 {"detail"}.')
NON_INT = probe_rule(NAME, "delete.non-integer", "A non-integer message id answers 422.")
EMPTY = probe_rule(NAME, "bad-input.empty", "An empty content answers 422 {detail}.")
JSON = (("content-type", "application/json"),)


def _chat(ctx: Context) -> str:
    # A chat of its own, so history holds only what this probe sent.
    return ctx.options.chat or str(1_000_000 + secrets.randbelow(1_000_000_000))


def _end_id(proto: Any, transcript: Transcript) -> object:
    msgs, _ = proto.messages(transcript)
    ends = [m.body.get("message") for m in msgs if m.type == "message_end"]
    return ends[0].get("id") if ends and isinstance(ends[0], dict) else None


def _history(ctx: Context) -> Plan:
    chat = _chat(ctx)
    texts = ("First turn of the chat", "Second turn of the chat")
    transcripts = yield from talk(ctx, *texts, chat=chat)
    found = stream_findings(ctx.proto, transcripts)
    replies = [_end_id(ctx.proto, t) for t in transcripts]
    if len(replies) != len(texts) or None in replies:
        if found:
            return found
        raise NotRun("the two turns got no message_end to compare history with")
    listed = yield from fetch("GET", BASE.format(chat=chat))
    history = listed.json()
    if listed.status != 200 or not isinstance(history, list):
        return [*found, hit(HISTORY, f"GET history: HTTP {listed.status}, not a JSON list")]
    seen = [
        (m.get("role"), m.get("content") if m.get("role") == "user" else m.get("id"))
        for m in history
        if isinstance(m, dict)
    ]
    want = [
        ("user", texts[0]),
        ("assistant", replies[0]),
        ("user", texts[1]),
        ("assistant", replies[1]),
    ]
    if seen != want:
        found.append(hit(HISTORY, f"history is {seen!r}, expected {want!r}"))
    return found + (yield from _delete(chat, replies[-1]))


def _delete(chat: str, reply: object) -> Plan:
    found: list[Finding] = []
    gone = yield from fetch("DELETE", f"{BASE.format(chat=chat)}/{reply}")
    after = yield from fetch("GET", BASE.format(chat=chat))
    still = json.dumps(after.json()) if after.status == 200 else ""
    if gone.status != 204 or f'"id": {reply},' in still or f'"id": {reply}}}' in still:
        found.append(hit(DELETE, f"DELETE of reply {reply}: HTTP {gone.status}; listed after"))
    unknown = yield from fetch("DELETE", f"{BASE.format(chat=chat)}/2147483000")
    body = unknown.json()
    if unknown.status != 404 or not isinstance(body, dict) or "detail" not in body:
        found.append(hit(UNKNOWN, f"DELETE of an unknown id: HTTP {unknown.status}"))
    word = yield from fetch("DELETE", f"{BASE.format(chat=chat)}/not-a-number")
    if word.status != 422:
        found.append(hit(NON_INT, f"DELETE of id 'not-a-number': HTTP {word.status}"))
    return found


def _bad_input(ctx: Context) -> Plan:
    path = BASE.format(chat=_chat(ctx)) + "/stream"
    answer = yield from fetch("POST", path, (*JSON, *ctx.options.headers), b'{"content": ""}')
    body = answer.json()
    if answer.status != 422 or not isinstance(body, dict) or "detail" not in body:
        return [hit(EMPTY, f"POST of an empty content: HTTP {answer.status}, not 422 {{detail}}")]
    return []


def _ndjson(ctx: Context) -> Plan:
    transcripts = yield from talk(ctx, "Lines, please", ndjson=True)
    return stream_findings(ctx.proto, transcripts)


PROBES = (
    Probe(
        "history",
        "state",
        "Two turns in a new chat, then its history (oldest first, ids as streamed), DELETE "
        "of the reply (204, gone), of an unknown id (404) and of a non-integer id (422).",
        _history,
        rules=(HISTORY, DELETE, UNKNOWN, NON_INT),
        covers=(f"{NAME}.message-id", f"{NAME}.chat-id"),
    ),
    Probe(
        "bad-input",
        "bad-input",
        'An empty content: 422 {"detail": …}.',
        _bad_input,
        rules=(EMPTY,),
    ),
    Probe(
        "ndjson",
        "negotiation",
        "Accept: application/x-ndjson gets NDJSON, checked line by line.",
        _ndjson,
        covers=(f"{NAME}.http.negotiation", f"{NAME}.ndjson.*"),
    ),
)
# An error event only comes when the server's model fails.
UNREACHABLE = ("message-stream.schema.error",)
