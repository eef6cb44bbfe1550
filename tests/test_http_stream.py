"""The SSE route, ``mockserver/http_stream.py``: what it writes when a request goes wrong (an
unexpected error before or after the head, a failing ``finish()``, a body over the limit).

Its replies themselves are tested per protocol (``tests/test_server_streams.py``), its
decisions with the WebSocket route's (``tests/test_endpoint.py``), its writes joined
(``tests/test_send_together.py``), held (``tests/test_server_hold.py``) and resumed
(``tests/test_resume.py``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockserver import asgi, streams
from mockserver.testing import LiveServer
from streamctl.core.protocols import get
from streamctl.core.script import default_reply
from tests.live import converse


@pytest.mark.parametrize("part", ["accept", "render"])
def test_an_unexpected_error_is_a_500_and_the_server_keeps_serving(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    proto = get("sse-delta-done")

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(proto), part, broken)  # the class: undo leaves no trace
    failed = httpx.get(live_server.url("/api/chat/stream?message=hi"))
    assert (failed.status_code, failed.json()) == (500, {"detail": "Internal Server Error"})
    monkeypatch.undo()
    (exchange,) = converse(live_server, "sse-delta-done", ["hi"])
    assert exchange.text == default_reply("hi").text
    (entry, _) = live_server.server.journal.entries()
    assert entry["outcome"] == "error"


def test_an_error_after_the_head_was_sent_breaks_the_stream_not_the_server(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(reply: Any, writer: Any, *args: Any, **kwargs: Any) -> None:
        await writer.write(reply.rendering.outs[0].payload)  # the head and a first event are out
        raise RuntimeError("a bug")

    monkeypatch.setattr(streams, "send", broken)  # what the SSE route plays a reply with
    with pytest.raises(httpx.RemoteProtocolError):  # the body ends without its last chunk
        converse(live_server, "message-stream", ["hi"])
    monkeypatch.undo()
    (exchange,) = converse(live_server, "message-stream", ["hi"])
    assert exchange.done


def test_a_failing_finish_is_logged_and_the_reply_still_completes(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proto = get("goose")

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(proto), "finish", broken)
    (exchange,) = converse(live_server, "goose", ["hi"])
    assert exchange.done
    assert live_server.server.journal.entries()[-1]["outcome"] == "complete"


def test_a_body_over_the_limit_is_a_413(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asgi, "MAX_BODY", 64)
    response = httpx.post(
        live_server.url("/reply"),
        content=b"x" * 100,
        headers={"Content-Type": "application/json", "X-Secret-Key": "test"},
    )
    assert (response.status_code, response.json()) == (413, {"detail": "Too Large"})
    assert live_server.server.journal.entries()[-1]["status"] == 413
