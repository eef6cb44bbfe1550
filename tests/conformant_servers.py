"""Conformant servers built on third-party stacks, written from docs/protocols/*.md alone.

Nothing here imports streamctl: each server is what a team would write from the protocol pages,
on the stack the page names. goose, sse-delta-done, message-stream and chunk-complete are one
FastAPI app (sse-starlette for the event streams, Starlette's WebSockets) served by uvicorn;
ws-events runs on the ``websockets`` library with its own HS256 JWT check (RFC 7519, by hand: no
JWT library is a dependency). ``check`` must pass all of them, ``--strict`` included
(tests/test_check_third_party.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from websockets.asyncio.server import ServerConnection, serve

from tests.threaded_server import ThreadedServer, cancel_the_rest

__all__ = ["GOOSE_KEY", "JWT_SECRET", "ThirdParty", "create_app", "sign", "ws_events"]

GOOSE_KEY = "third-party-key"
JWT_SECRET = "third-party-jwt-secret"
WORDS = ("Hello", " from", " a", " third-party", " server.")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


# --- one FastAPI app: goose, sse-delta-done, message-stream, chunk-complete ------------------


class Content(BaseModel):
    content: str = Field(min_length=1)


def create_app(
    ping_after_done: bool = False, word_delay: float = 0.01, breaks: str = ""
) -> FastAPI:
    """The FastAPI app. ``ping_after_done``: sse-delta-done's stream lingers after ``done`` while
    sse-starlette's ``: ping`` comments keep coming, as its default pinging does. ``word_delay``
    (s): the pause after each token; goose sends a ``Ping`` whenever 0.5 s passed since the
    last. ``breaks`` names one rule to break (tests/test_check_suite.py): ``ping-then-silence``,
    ``any-content-type``, ``session-forgets``, ``history-without-reply``,
    ``history-newest-first``, ``delete-unknown-204``, ``empty-content-accepted``,
    ``reuse-bot-id``."""
    app = FastAPI()
    goose_sessions: dict[str, list[Any]] = {}
    chats: dict[int, list[dict[str, Any]]] = {}
    ids = itertools.count(1)

    # goose (docs/protocols/goose.md)

    @app.get("/status")
    async def status() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/reply")
    async def reply(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0]
        if media != "application/json" and breaks != "any-content-type":
            return Response("Content-Type must be application/json", 415)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return Response("invalid JSON", 400)
        for field in ("messages", "session_working_dir"):
            if not isinstance(body, dict) or field not in body:
                return Response(f"missing field `{field}`", 422)
        if request.headers.get("x-secret-key") != GOOSE_KEY:
            return Response(status_code=401)
        session = str(body.get("session_id") or "default")
        goose_sessions[session] = list(body["messages"])
        message_id = f"msg_{next(ids)}"

        async def events() -> AsyncIterator[bytes]:
            yield b'data: {"type":"Ping"}\n\n'
            pinged = time.monotonic()
            if breaks == "ping-then-silence":
                await asyncio.sleep(1.6)
            for word in WORDS:
                if time.monotonic() - pinged >= 0.45:
                    yield b'data: {"type":"Ping"}\n\n'
                    pinged = time.monotonic()
                message = {
                    "id": message_id,
                    "role": "assistant",
                    "created": int(time.time()),
                    "content": [{"type": "text", "text": word}],
                }
                event = {"type": "Message", "message": message}
                yield b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
                await asyncio.sleep(word_delay)
            yield b'data: {"type":"Finish","reason":"stop"}\n\n'

        headers = {"cache-control": "no-cache"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @app.get("/sessions/{session_id}")
    async def goose_session(session_id: str, request: Request) -> Response:
        if request.headers.get("x-secret-key") != GOOSE_KEY:
            return Response(status_code=401)
        if session_id not in goose_sessions:
            return Response(status_code=404)
        messages = [] if breaks == "session-forgets" else goose_sessions[session_id]
        return JSONResponse({"sessionId": session_id, "metadata": {}, "messages": messages})

    # sse-delta-done (docs/protocols/sse-delta-done.md)

    @app.get("/api/chat/stream")
    async def delta_done(message: str = Query(...)) -> EventSourceResponse:
        async def events() -> AsyncIterator[ServerSentEvent]:
            for word in WORDS:
                yield ServerSentEvent(data=json.dumps({"delta": word}), event="message")
                await asyncio.sleep(0.01)
            yield ServerSentEvent(data=json.dumps({"done": True}))
            if ping_after_done:
                await asyncio.sleep(1.0)

        return EventSourceResponse(events(), ping=0.05 if ping_after_done else 15)

    # message-stream (docs/protocols/message-stream.md)

    base = "/api/web/v1/chats/{chat_id}/messages"

    def read(chat_id: int, role: str, content: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": next(ids),
            "chat_id": chat_id,
            "role": role,
            "content": content,
            "created_at": _now_iso(),
            **extra,
        }

    @app.post(base + "/stream")
    async def message_stream(chat_id: int, request: Request) -> Response:
        try:
            body = Content.model_validate_json(await request.body())
        except ValueError as exc:
            if breaks != "empty-content-accepted":
                return JSONResponse({"detail": str(exc)}, 422)
            body = Content.model_construct(content="")
        history = chats.setdefault(chat_id, [])
        history.append(read(chat_id, "user", body.content))
        started = time.perf_counter()
        reply = read(chat_id, "assistant", "")
        ndjson = "application/x-ndjson" in request.headers.get("accept", "")

        def frame(event: dict[str, Any]) -> bytes:
            data = json.dumps(event)
            if ndjson:
                return data.encode() + b"\n"
            return f"event: {event['type']}\ndata: {data}\n\n".encode()

        async def events() -> AsyncIterator[bytes]:
            yield frame({"type": "message_start", "message": reply})
            for word in WORDS:
                yield frame({"type": "message_delta", "message_id": reply["id"], "delta": word})
                await asyncio.sleep(0.01)
            metadata = {
                "model": "third-party",
                "tokens": len(WORDS),
                "processingTime": round(time.perf_counter() - started, 3),
            }
            done = {**reply, "content": "".join(WORDS), "metadata": metadata}
            if breaks != "history-without-reply":
                history.append(done)
            yield frame({"type": "message_end", "message": done})

        media = "application/x-ndjson" if ndjson else "text/event-stream"
        headers = {"cache-control": "no-cache"}
        return StreamingResponse(events(), media_type=media, headers=headers)

    @app.get(base)
    async def message_history(chat_id: int) -> list[dict[str, Any]]:
        history = chats.get(chat_id, [])
        return history[::-1] if breaks == "history-newest-first" else history

    @app.delete(base + "/{message_id}", status_code=204)
    async def message_delete(chat_id: int, message_id: int) -> Response:
        history = chats.get(chat_id, [])
        kept = [m for m in history if m["id"] != message_id]
        if len(kept) == len(history) and breaks != "delete-unknown-204":
            return JSONResponse({"detail": "Message not found"}, 404)
        chats[chat_id] = kept
        return Response(status_code=204)

    # chunk-complete (docs/protocols/chunk-complete.md)

    @app.websocket("/chat/ws")
    async def chunk_complete(websocket: WebSocket) -> None:
        await websocket.accept()
        replies = itertools.count(1)
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                message = obj.get("message") if isinstance(obj, dict) else None
                if not isinstance(message, str) or not message:
                    await websocket.send_json({"type": "error", "message": "invalid input"})
                    continue
                reply_id = "bot_1" if breaks == "reuse-bot-id" else f"bot_{next(replies)}"
                for word in WORDS:
                    await websocket.send_json(
                        {"type": "chunk", "message_id": reply_id, "text": word}
                    )
                    await asyncio.sleep(0.01)
                await websocket.send_json({"type": "complete", "message_id": reply_id})
        except WebSocketDisconnect:
            pass

    return app


# --- ws-events on the websockets library (docs/protocols/ws-events.md) ------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
    """An HS256 JWT of ``claims``."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def verify(token: object, secret: str = JWT_SECRET, breaks: str = "") -> dict[str, Any] | None:
    """The claims of a valid, unexpired HS256 token, else None. ``breaks``: ``accept-expired``,
    ``accept-bad-signature`` or ``accept-alg-none`` lets that token through."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    head, body, mac = token.split(".")
    try:
        header = json.loads(_unb64(head))
        claims = json.loads(_unb64(body))
        given = _unb64(mac)
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    if header.get("alg") == "none" and breaks == "accept-alg-none":
        return claims
    if header.get("alg") != "HS256":
        return None
    want = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(want, given) and breaks != "accept-bad-signature":
        return None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and time.time() >= exp and breaks != "accept-expired":
        return None
    return claims


WSEventsBehaviour = Callable[[ServerConnection], Awaitable[None]]


def ws_events(secret: str = JWT_SECRET, breaks: str = "") -> WSEventsBehaviour:
    """The ws-events connection handler; chats outlive connections. ``breaks`` names one rule to
    break: a token :func:`verify` lets through, ``reuse-message-id`` (every reply's messageId is
    the first reply's), ``bad-input-ignored`` or ``bad-input-closes`` (an error, then close),
    ``join-without-history`` (chat_joined lists no messages)."""
    chats: dict[str, dict[str, Any]] = {}
    ids = itertools.count(1)

    async def send(conn: ServerConnection, kind: str, **data: Any) -> None:
        await conn.send(json.dumps({"type": kind, "data": data}))

    async def refuse(conn: ServerConnection, message: str) -> None:
        if breaks == "bad-input-ignored":
            return
        await send(conn, "error", message=message)
        if breaks == "bad-input-closes":
            await conn.close()

    async def handle(conn: ServerConnection) -> None:
        await send(conn, "connected", message="Connected to the chat server")
        chat: dict[str, Any] | None = None
        async for text in conn:
            try:
                obj = json.loads(text)
            except ValueError:
                await refuse(conn, "Invalid JSON")
                continue
            kind = obj.get("type") if isinstance(obj, dict) else None
            data = obj.get("data") if isinstance(obj, dict) else None
            data = data if isinstance(data, dict) else {}
            if kind in ("create_chat", "join_chat"):
                claims = verify(data.get("token"), secret, breaks)
                if claims is None:
                    await send(conn, "error", message="Authentication failed")
                    continue
                if kind == "join_chat" and data.get("chatId") not in chats:
                    await send(conn, "error", message="Chat not found")
                    continue
                await send(conn, "authenticated", userId=str(claims.get("userId", "")))
                if kind == "create_chat":
                    chat = {"chatId": f"chat-{next(ids)}", "title": "New Chat", "messages": []}
                    chats[chat["chatId"]] = chat
                    await send(conn, "chat_created", chatId=chat["chatId"], title=chat["title"])
                else:
                    chat = chats[data["chatId"]]
                    if breaks == "join-without-history":
                        await send(conn, "chat_joined", **{**chat, "messages": []})
                    else:
                        await send(conn, "chat_joined", **chat)
            elif kind == "message":
                message = data.get("message")
                if chat is None:
                    await send(conn, "error", message="Join or create a chat first")
                elif not isinstance(message, str) or not message:
                    await refuse(conn, "message must be a non-empty string")
                else:
                    reply_id = "m-reply" if breaks == "reuse-message-id" else f"m{next(ids)}"
                    await _turn(chat, message, ids, conn, send, reply_id=reply_id)
            else:
                await refuse(conn, f"Unknown message type: {kind!r}")

    return handle


async def _turn(
    chat: dict[str, Any],
    message: str,
    ids: itertools.count[int],
    conn: ServerConnection,
    send: Callable[..., Awaitable[None]],
    *,
    reply_id: str,
) -> None:
    if not chat["messages"]:
        chat["title"] = message[:40]
    user = {"messageId": f"m{next(ids)}", "content": message, "role": "user"}
    user["timestamp"] = _now_iso()
    chat["messages"].append(user)
    await send(conn, "user_message", **user)
    await send(conn, "assistant_message_start", message="Assistant is typing")
    for word in WORDS:
        await send(conn, "assistant_message_token", token=word)
        await asyncio.sleep(0.01)
    done = {"messageId": reply_id, "content": "".join(WORDS), "role": "assistant"}
    done["timestamp"] = _now_iso()
    chat["messages"].append(done)
    await send(conn, "assistant_message_complete", **done)


# --- running them ---------------------------------------------------------------------------


class ThirdParty(ThreadedServer):
    """uvicorn serving ``app`` (or the websockets library serving ``ws`` at any path) on a
    pre-bound ``127.0.0.1:0`` socket in a background thread."""

    what = "the third-party server"

    def __init__(self, app: FastAPI | None = None, ws: WSEventsBehaviour | None = None) -> None:
        super().__init__()
        self.app = app
        self.ws = ws

    async def _serve(self, stop: asyncio.Event) -> None:
        if self.ws is not None:
            async with serve(self.ws, sock=self._sock):
                self._ready.set()
                await stop.wait()
            return
        assert self.app is not None
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[self._sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        self._ready.set()
        await stop.wait()
        server.should_exit = True
        await task
        # sse-starlette's shutdown watchers outlive the server: end them with the loop.
        await cancel_the_rest()
