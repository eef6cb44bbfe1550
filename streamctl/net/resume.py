"""``streamctl check --resume``: cut an SSE reply short, reconnect with ``Last-Event-ID``.

Three requests with the same options: an uninterrupted reply; the same reply read for a few
events and then closed by the client; and a reconnect carrying the last event id it saw. The
texts are compared by :func:`streamctl.engine.resume.resume_findings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.sse import SSEDecoder
from streamctl.errors import Unreachable, UsageError
from streamctl.net import urls
from streamctl.net.base import merge_headers

__all__ = ["Reading", "ResumeTrial", "resume_trial"]


@dataclass(frozen=True, slots=True)
class Reading:
    """The text one request received, and the last event id it saw."""

    text: str
    last_id: str | None
    events: int


@dataclass(frozen=True, slots=True)
class ResumeTrial:
    full: Reading
    before: Reading
    after: Reading


async def _read(
    proto: ChatProtocol,
    options: ClientOptions,
    base_url: str,
    *,
    last_id: str | None = None,
    cut_after: int | None = None,
    timeout: float | None = 30.0,
) -> Reading:
    session = proto.client(options)
    request = session.request()
    extra = options.headers + ((("last-event-id", last_id),) if last_id else ())
    headers = merge_headers(request.headers, extra)
    url = urls.join(base_url, request.target)
    decoder, text, seen, count = SSEDecoder(), [], None, 0
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream(request.method, url, headers=list(headers), content=request.body) as raw,
        ):
            async for chunk in raw.aiter_raw():
                for event in decoder.feed(chunk):
                    update = session.on_event(event)
                    text.append(update.text)
                    seen, count = event.id or seen, count + 1
                    if update.done or (cut_after is not None and count >= cut_after):
                        return Reading("".join(text), seen, count)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unreachable(f"cannot connect to {url}: {exc}") from exc
    except httpx.RemoteProtocolError:
        pass  # the server dropped the connection: what arrived is what counts
    return Reading("".join(text), seen, count)


async def resume_trial(
    proto: ChatProtocol,
    options: ClientOptions,
    base_url: str,
    *,
    cut_after: int = 3,
    timeout: float | None = 30.0,
) -> ResumeTrial:
    """The uninterrupted reply, the reply cut after ``cut_after`` events, and its resumption."""
    if proto.transport != "sse":
        raise UsageError(f"--resume needs an SSE protocol; {proto.name} is a WebSocket protocol")
    full = await _read(proto, options, base_url, timeout=timeout)
    before = await _read(proto, options, base_url, cut_after=cut_after, timeout=timeout)
    after = Reading("", None, 0)
    if before.last_id:
        after = await _read(proto, options, base_url, last_id=before.last_id, timeout=timeout)
    return ResumeTrial(full, before, after)
