"""Runs the contract suite's probes against a live server: the I/O half of
:mod:`streamctl.core.probe`.

Each probe's plan says what to do; this module does it (httpx for plain requests, websockets
for raw WebSocket messages, the ordinary conversations for turns) and sends back what happened.
Independent probes run concurrently; each is bounded by ``--timeout`` and every wait for the
server by ``--idle-timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from streamctl.core.probe import (
    Connect,
    Connected,
    Context,
    Fetch,
    Fetched,
    NotRun,
    Observation,
    Probe,
    ProbeResult,
    Receive,
    Received,
    Send,
    Talk,
    Talked,
    hit,
    stalled_rule,
    verdict,
)
from streamctl.core.transcript import Frame, Request, Response, Transcript
from streamctl.engine.recorder import NullSink, Recorder
from streamctl.errors import Unreachable
from streamctl.net import open_conversation, transcript_meta, urls
from streamctl.net.base import Limits, NullObserver, Observer

__all__ = ["run_suite"]

MAX_BODY = 1024 * 1024
MAX_MESSAGE = 16 * 1024 * 1024


async def run_suite(
    probes: Sequence[Probe],
    ctx: Context,
    base_url: str,
    limits: Limits,
    *,
    strict: bool = False,
    observer: Observer | None = None,
) -> list[ProbeResult]:
    """Every probe's result, in the order given; probes that need what ``ctx`` lacks are
    ``not run``. Raises :class:`~streamctl.errors.Unreachable` when there is no server.
    ``observer`` sees the wire (``check --debug``)."""
    watch = observer or NullObserver()
    # One HTTP client for the whole run, shared by every probe's plain requests; TLS settings
    # only for https, so a plain-http run never pays for loading the CA bundle (about 100 ms).
    https = base_url.lower().startswith("https:")
    idle = limits.idle or limits.timeout or 30.0
    async with httpx.AsyncClient(timeout=idle, follow_redirects=False, verify=https) as http:
        tasks = [
            _one(probe, ctx, _Runner(ctx, base_url, limits, watch, http), strict)
            for probe in probes
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, ProbeResult)]


async def _one(probe: Probe, ctx: Context, runner: _Runner, strict: bool) -> ProbeResult:
    missing = probe.missing(ctx)
    if missing:
        return ProbeResult(probe, "not run", why=f"needs {' and '.join(missing)}")
    limits = runner.limits
    async with runner:
        try:
            # Each exchange is bounded by --timeout itself; this bound is the net under the
            # probe as a whole, a second later so an exchange's own timeout reports first.
            async with asyncio.timeout(None if limits.timeout is None else limits.timeout + 1):
                findings = await runner.run(probe)
        except NotRun as exc:
            return ProbeResult(probe, "not run", why=str(exc), transcripts=runner.transcripts)
        except TimeoutError:
            late = f"the probe did not finish within --timeout {limits.timeout:g} s"
            findings = [hit(stalled_rule(ctx.proto.name), late)]
    result = verdict(probe, findings, strict)
    return ProbeResult(probe, result.status, result.findings, transcripts=runner.transcripts)


class _Runner:
    """Carries out one plan's actions; holds its WebSocket, and uses the run's HTTP client."""

    def __init__(
        self,
        ctx: Context,
        base_url: str,
        limits: Limits,
        observer: Observer,
        http: httpx.AsyncClient,
    ) -> None:
        self.ctx = ctx
        self.observer = observer
        self.base_url = base_url
        self.limits = limits
        self.idle = limits.idle or limits.timeout or 30.0
        self.ws: ClientConnection | None = None
        self.http = http
        self.transcripts: tuple[Transcript, ...] = ()

    async def __aenter__(self) -> _Runner:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._hang_up()

    async def run(self, probe: Probe) -> list[Any]:
        plan = probe.plan(self.ctx)
        try:
            action = next(plan)
            while True:
                action = plan.send(await self.answer(action))
        except StopIteration as stop:
            return list(stop.value)

    async def answer(self, action: Any) -> Observation:
        if isinstance(action, Talk):
            return await self._talk(action)
        if isinstance(action, Fetch):
            return await self._fetch(action)
        if isinstance(action, Connect):
            return await self._connect(action)
        if isinstance(action, Send):
            return await self._send(action)
        assert isinstance(action, Receive)
        return await self._receive(action)

    async def _talk(self, talk: Talk) -> Talked:
        from streamctl.net import converse  # noqa: PLC0415

        recorders: list[Recorder] = []
        proto = self.ctx.proto
        url = self.base_url
        if talk.query:
            url += ("&" if "?" in url else "?") + talk.query

        def new_recorder() -> Recorder:
            meta = transcript_meta(url)
            recorders.append(Recorder(NullSink(), proto.name, proto.transport, meta=meta))
            return recorders[-1]

        conv = open_conversation(
            proto,
            talk.options,
            url,
            recorders=new_recorder,
            observer=self.observer,
            limits=self.limits,
        )
        for result in await converse(conv, list(talk.messages)):
            if isinstance(result.error, Unreachable):
                raise result.error
        talked = tuple(recorder.transcript() for recorder in recorders)
        self.transcripts += talked
        return Talked(talked)

    async def _fetch(self, fetch: Fetch) -> Fetched:
        url = urls.join(self.base_url, fetch.path)
        try:
            request = self.http.build_request(
                fetch.method, url, headers=list(fetch.headers), content=fetch.body or None
            )
            response = await self.http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"cannot connect to {url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise NotRun(f"{fetch.method} {fetch.path} failed: {exc}") from exc
        try:
            body = b""
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= MAX_BODY:
                    break
        except httpx.HTTPError:
            pass  # what arrived is the answer
        finally:
            await response.aclose()
        fetched = Fetched(response.status_code, tuple(response.headers.multi_items()), body)
        head = Request(fetch.method, fetch.path, fetch.headers, fetch.body)
        self.observer.on_head(head, Response(fetched.status, fetched.headers))
        self.observer.on_frame(Frame(0.0, "server", body))
        return fetched

    async def _hang_up(self) -> None:
        ws, self.ws = self.ws, None
        if ws is None:
            return
        try:
            async with asyncio.timeout(1.0):
                await ws.close()
        except (TimeoutError, OSError, ConnectionClosed):
            ws.transport.abort()

    async def _connect(self, action: Connect) -> Connected:
        await self._hang_up()
        path = self.ctx.proto.stream_endpoint.path
        url = urls.join(self.base_url, path, websocket=True)
        try:
            async with asyncio.timeout(self.idle):
                self.ws = await connect(
                    url,
                    additional_headers=list(action.headers),
                    open_timeout=None,
                    ping_interval=None,
                    max_size=MAX_MESSAGE,
                    max_queue=None,
                )
        except InvalidStatus as exc:
            return Connected(exc.response.status_code)
        except (InvalidHandshake, TimeoutError):
            return Connected(0)
        except OSError as exc:
            raise Unreachable(f"cannot connect to {url}: {exc}") from exc
        return Connected(101)

    async def _send(self, send: Send) -> Received:
        if self.ws is None:
            return Received(closed=True)
        try:
            await self.ws.send(send.text)
        except ConnectionClosed:
            return Received(closed=True)
        self.observer.on_frame(Frame(0.0, "client", send.text))
        return Received()

    async def _receive(self, receive: Receive) -> Received:
        if self.ws is None:
            return Received(closed=True)
        try:
            async with asyncio.timeout(receive.wait_s or self.idle):
                message = await self.ws.recv()
        except TimeoutError:
            return Received()
        except ConnectionClosed:
            return Received(closed=True)
        payload = message if isinstance(message, str) else bytes(message)
        self.observer.on_frame(Frame(0.0, "server", payload))
        return Received(payload)
