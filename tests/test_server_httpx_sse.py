"""A real third-party SSE client (httpx-sse) reads every SSE protocol the mock serves, and sees
exactly the events streamctl's own WHATWG decoder sees."""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import EventSource

from mockserver.testing import LiveServer
from streamctl.core.protocols import REGISTRY
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.sse import SSEDecoder, SSEEvent

SSE_PROTOCOLS = [p for p in REGISTRY.values() if isinstance(p, SSEProtocol)]


@pytest.mark.parametrize("scenario", ["plain", "tool-call", "error-mid-stream"])
@pytest.mark.parametrize("proto", SSE_PROTOCOLS, ids=[p.name for p in SSE_PROTOCOLS])
def test_httpx_sse_reassembles_the_reply_our_decoder_sees(
    live_server: LiveServer, proto: SSEProtocol, scenario: str
) -> None:
    request = proto.client(ClientOptions("hello", secret_key="test")).request()
    joiner = "&" if "?" in request.target else "?"
    url = live_server.url(f"{request.target}{joiner}scenario={scenario}")
    with httpx.Client(timeout=10) as http:
        response = http.request(
            request.method,
            url,
            headers=dict(request.headers),
            content=request.body,
        )
    # The same bytes through httpx-sse's EventSource and through streamctl's decoder.
    replayed = httpx.Response(200, headers=response.headers, content=response.content)
    theirs = [(e.event, e.data, e.id) for e in EventSource(replayed).iter_sse()]
    raw = response.content
    decoder = SSEDecoder()
    ours = decoder.feed(raw) + decoder.close()
    assert theirs == [(e.type, e.data, e.id) for e in ours]
    assert decoder.problems == []
    client = proto.client(ClientOptions("hello"))
    updates = [client.on_event(SSEEvent(data, event)) for event, data, _ in theirs]
    assert "".join(u.text for u in updates)
    assert any(u.done or u.error for u in updates)
