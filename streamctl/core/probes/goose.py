"""goose's own probes (goose-protocol.md, PROTOCOLS.md §1): auth, malformed requests, the
session endpoint and the Ping heartbeat."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

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
from streamctl.core.transcript import Headers

__all__ = ["PROBES", "UNREACHABLE"]

NAME = "goose"
# "Missing or wrong key: 401 with an empty body. GET /status needs no key."
REFUSED = probe_rule(
    NAME, "auth.refused", "A missing or wrong X-Secret-Key gets 401 with an empty body."
)
STATUS = probe_rule(NAME, "auth.status-open", 'GET /status needs no key: 200 {"status":"ok"}.')
# "Content-Type: application/json (else 415) … Invalid JSON: 400 text; wrong shape: 422 text
# naming the missing field."
BAD_INPUT = probe_rule(
    NAME,
    "bad-input.status",
    "POST /reply answers a non-JSON Content-Type with 415, invalid JSON with 400, and a body "
    "without messages with 422 naming the field.",
)
# "Session history: GET /sessions/{session_id} → {"sessionId", "metadata", "messages"}."
SESSION = probe_rule(
    NAME, "session.history", "GET /sessions/{id} returns the session with every user message."
)
TIMING = "fault=stall:ms=1600,pings"
LONG_MS = 1500.0


def _request(ctx: Context) -> tuple[Headers, bytes]:
    """The headers and body of a valid ``POST /reply``."""
    request = ctx.proto.client(replace(ctx.options, message="Hello from a probe")).request()
    return request.headers, request.body or b""


def _without_key(headers: Headers) -> Headers:
    return tuple((k, v) for k, v in headers if k.lower() != "x-secret-key")


def _auth(ctx: Context) -> Plan:
    headers, body = _request(ctx)
    bare = _without_key(headers)
    found: list[Finding] = []
    wrong = (*bare, ("x-secret-key", f"wrong-{secrets.token_hex(8)}"))
    for what, sent in (("no X-Secret-Key", bare), ("a wrong X-Secret-Key", wrong)):
        answer = yield from fetch("POST", "/reply", sent, body)
        if answer.status != 401 or answer.body:
            size = f" with a {len(answer.body)}-byte body" if answer.body else ""
            found.append(hit(REFUSED, f"{what}: HTTP {answer.status}{size}, not 401 empty"))
    status = yield from fetch("GET", "/status")
    if status.status != 200:
        found.append(hit(STATUS, f"GET /status without a key: HTTP {status.status}"))
    return found


def _bad_input(ctx: Context) -> Plan:
    headers, body = _request(ctx)
    plain = tuple((k, v) for k, v in headers if k.lower() != "content-type")
    cases = (
        ("a text/plain body", (*plain, ("content-type", "text/plain")), body, 415),
        ("invalid JSON", headers, b'{"messages": [', 400),
        ("a body without messages", headers, b'{"session_working_dir": "/tmp"}', 422),
    )
    found: list[Finding] = []
    for what, sent, content, want in cases:
        answer = yield from fetch("POST", "/reply", sent, content)
        if answer.status != want:
            found.append(hit(BAD_INPUT, f"{what}: HTTP {answer.status}, not {want}"))
        elif want == 422 and b"messages" not in answer.body:
            found.append(hit(BAD_INPUT, f"{what}: the 422 does not name the field 'messages'"))
    return found


def _session(ctx: Context) -> Plan:
    name = f"streamctl-probe-{secrets.token_hex(4)}"
    texts = ("First turn of the session", "Second turn of the session")
    transcripts = yield from talk(ctx, *texts, session=name)
    found = stream_findings(ctx.proto, transcripts)
    key = (("x-secret-key", ctx.options.secret_key or "test"),)
    answer = yield from fetch("GET", f"/sessions/{name}", (*key, *ctx.options.headers))
    obj = answer.json()
    messages = obj.get("messages") if isinstance(obj, dict) else None
    if answer.status != 200 or not isinstance(messages, list):
        return [*found, hit(SESSION, f"GET /sessions/{name}: HTTP {answer.status}, no messages")]
    said = json.dumps(messages)
    missing = [t for t in texts if t not in said]
    if missing:
        found.append(hit(SESSION, f"the session's messages do not hold {missing!r}"))
    return found


def _timing(ctx: Context) -> Plan:
    transcripts = yield from talk(ctx, "Take your time (heartbeat probe)", query=TIMING)
    found = stream_findings(ctx.proto, transcripts)
    end = transcripts[-1].end if transcripts else None
    lasted = end.t if end is not None else 0.0
    if lasted < LONG_MS and not found:
        raise NotRun(f"the reply lasted {lasted:.0f} ms, too short to see the 500 ms Ping")
    return found


PROBES = (
    Probe(
        "auth",
        "auth",
        "POST /reply without and with a wrong X-Secret-Key: 401 with an empty body; "
        "GET /status needs no key.",
        _auth,
        rules=(REFUSED, STATUS),
    ),
    Probe(
        "bad-input",
        "bad-input",
        "POST /reply with text/plain (415), invalid JSON (400), no messages (422 naming it).",
        _bad_input,
        rules=(BAD_INPUT,),
    ),
    Probe(
        "session",
        "state",
        "Two turns in one session, then GET /sessions/{id}: both user messages are there.",
        _session,
        rules=(SESSION,),
        covers=("goose.message.round-id",),
    ),
    Probe(
        "heartbeat",
        "timing",
        "A reply lasting over 1.5 s (the mock is asked with ?" + TIMING + "): Ping first, "
        "and no gap over 1.5 s without one.",
        _timing,
        covers=("goose.ping.first", "goose.ping.interval"),
    ),
)
# A tool round, a provider error and era-E fields only appear when the server's model does
# them; no request from outside can make it.
UNREACHABLE = (
    "goose.schema.Notification",
    "goose.schema.ModelChange",
    "goose.schema.Error",
    "goose.schema.UpdateConversation",
    "goose.tool.response-without-request",
    "goose.tool.role",
    "goose.notification.pending",
    "goose.token-state.required",
)
