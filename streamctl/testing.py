"""Contract tests in one line: a live mock server, a conformance assertion, a stream recorder.

The pytest plugin (``streamctl.pytest_plugin``, registered on install) provides the fixtures
``mock_server`` and ``stream_recorder``; this module holds what they hand out, and
:func:`assert_conforms`, which works anywhere::

    from streamctl.testing import assert_conforms

    def test_my_backend_speaks_sse_delta_done():
        assert_conforms("http://127.0.0.1:9000", "sse-delta-done")
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.spec import Finding, Level
from streamctl.core.transcript import Transcript, dump, load
from streamctl.engine.captures import CAPTURE_SUFFIXES, named, read_file

if TYPE_CHECKING:
    from mockserver.testing import LiveServer

__all__ = ["HeldStream", "MockServer", "StreamRecorder", "assert_conforms"]

#: The longest one admin request waits for a stream to be held (s); held() asks again.
_POLL_S = 5.0


class MockServer:
    """The mock server a test talks to: its URLs, scenarios for the next requests, and the
    journal of what clients sent."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.base_url = live.base_url
        self.ws_url = live.ws_url
        self._added = 0

    def url(self, protocol: str, **path_params: str) -> str:
        """The protocol's stream endpoint (``ws://`` for WebSocket protocols), with
        ``{placeholders}`` filled from ``path_params`` (``chat_id`` defaults to ``1``)."""
        proto = get(protocol)
        path = proto.stream_endpoint.path.format_map({"chat_id": "1", **path_params})
        return self.live.url(path, ws=proto.transport == "ws")

    def use(
        self,
        scenario: str | Mapping[str, Any] | Transcript | Path,
        protocol: str | None = None,
        *,
        count: int = 1,
        name: str | None = None,
    ) -> str:
        """Serve ``scenario`` for the next ``count`` requests on ``protocol``; returns its name.

        ``scenario`` is a loaded scenario's name, a scripted scenario (the JSON form of
        ``fixtures/README.md``, e.g. ``{"reply": "Hello!"}``), a recorded :class:`Transcript`,
        or a path to either kind of file or to a capture (``.sse``, ``.ndjson``: a raw body of
        ``protocol``; ``.har``: its first exchange of ``protocol``). Without ``protocol`` it
        is only loaded (ask for it with ``?scenario=NAME``). Scenarios added here are
        forgotten at the next test.
        """
        chosen = scenario if isinstance(scenario, str) else self._add(scenario, name, protocol)
        if protocol is not None:
            body = {"protocol": protocol, "scenario": chosen, "count": count}
            self._admin("POST", "/queue", json=body)
        return chosen

    def _add(
        self,
        scenario: Mapping[str, Any] | Transcript | Path,
        name: str | None,
        protocol: str | None = None,
    ) -> str:
        if isinstance(scenario, Path) and scenario.suffix in CAPTURE_SUFFIXES:
            # A capture: its first exchange (of ``protocol``, if named) as a recording.
            first = read_file(scenario, protocol)[:1]
            name = name or named(scenario, first)[0][0]
            scenario = first[0]
        if isinstance(scenario, Path):
            text, name = scenario.read_text(encoding="utf-8"), name or scenario.stem
        elif isinstance(scenario, Transcript):
            text = dump(scenario)
        else:
            text, name = json.dumps(dict(scenario)), name or scenario.get("name")
        self._added += 1
        params = {"name": name or f"test-scenario-{self._added}"}
        # A recording is JSON Lines; the admin API takes only JSON types (docs/security.md).
        lines = "\n" in text.strip()
        kind = "application/x-ndjson" if lines else "application/json"
        headers = {"Content-Type": kind}
        added = self._admin("POST", "/scenarios", content=text, params=params, headers=headers)
        return str(added["name"])

    def journal(self, protocol: str | None = None) -> list[dict[str, Any]]:
        """What every client sent (secrets redacted), oldest first."""
        params = {} if protocol is None else {"protocol": protocol}
        entries: list[dict[str, Any]] = self._admin("GET", "/journal", params=params)["entries"]
        return entries

    def reset(self) -> None:
        """Forget chats, sessions, queues, the journal, recordings and added scenarios."""
        self._admin("POST", "/reset")

    def held(
        self, timeout: float = 10.0, name: str | None = None, protocol: str | None = None
    ) -> HeldStream:
        """Wait for a stream held at a hold point (``name``, on ``protocol``, if given).

        Holds come from ``{"hold": NAME}`` in a scenario's tokens or the server's
        ``hold_after``; the fixture releases every held stream when the test ends. Raises
        AssertionError when none is held within ``timeout`` seconds.
        """
        params = {"held": "true"}
        params.update({k: v for k, v in (("name", name), ("protocol", protocol)) if v})
        deadline = time.monotonic() + timeout
        while True:
            found = self._admin("GET", "/streams", params=params, timeout=_POLL_S + 10)
            if found["streams"]:
                return HeldStream(self, found["streams"][0])
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"mock server: no stream held within {timeout} s")
            params.update(since=str(found["version"]), wait=str(min(left, _POLL_S)))

    def release_all(self, *, free: bool = False) -> int:
        """Release every held stream; how many were. ``free``: the open streams hold no more
        (the fixture does so when a test ends)."""
        params = {"free": "true"} if free else {}
        released: int = self._admin("POST", "/streams/release", params=params)["released"]
        return released

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.live.admin_headers(), **kwargs.pop("headers", {})}
        if method == "POST" and "json" not in kwargs and "content" not in kwargs:
            kwargs["json"] = {}
        url = self.live.url("/_streamctl" + path)
        kwargs.setdefault("timeout", 10)
        response = httpx.request(method, url, headers=headers, **kwargs)
        if response.is_error:
            raise AssertionError(f"mock server: {method} {path}: {response.text}")
        return response.json()


class HeldStream:
    """A stream the mock server holds (see :meth:`MockServer.held`).

    ``held_at`` names the hold, ``position`` counts the writes sent before it, ``id`` and
    ``protocol`` say which stream it is.
    """

    def __init__(self, server: MockServer, summary: Mapping[str, Any]) -> None:
        self.server = server
        self.id: str = summary["id"]
        self.protocol: str = summary["protocol"]
        self.path: str = summary["path"]
        self.held_at: str = summary["held"]
        self.position: int = summary["position"]

    def release(self) -> None:
        """Let the stream go on (it holds again at its next hold point, if any)."""
        self.server._admin("POST", f"/streams/{self.id}/release")

    def step(self, n: int = 1) -> None:
        """Let the stream send ``n`` more writes, then hold again (``held()`` finds it)."""
        self.server._admin("POST", f"/streams/{self.id}/release", params={"steps": str(n)})

    def cut(self) -> None:
        """Drop the stream now: an SSE body ends without its terminator, a WebSocket closes
        with 1011."""
        self.server._admin("POST", f"/streams/{self.id}/cut")

    def __repr__(self) -> str:
        return f"<HeldStream {self.id} {self.protocol} held at {self.held_at!r} ({self.position})>"


class StreamRecorder:
    """What each client under test was sent by the mock server, as transcripts."""

    def __init__(self, server: MockServer) -> None:
        self.server = server

    def transcripts(self, protocol: str | None = None) -> list[Transcript]:
        """Every stream exchange since the test began, oldest first."""
        params = {} if protocol is None else {"protocol": protocol}
        found = self.server._admin("GET", "/transcripts", params=params)["transcripts"]
        return [load(text) for text in found]

    def last(self, protocol: str | None = None) -> Transcript:
        """The latest exchange (on ``protocol``); fails the test when there is none."""
        found = self.transcripts(protocol)
        if not found:
            raise AssertionError(f"no {protocol or 'stream'} exchange was recorded")
        return found[-1]

    def save(self, path: Path, protocol: str | None = None) -> Path:
        """Write the latest exchange to ``path`` (a fixture the mock server can replay)."""
        path.write_text(dump(self.last(protocol)), encoding="utf-8")
        return path


def assert_conforms(
    target: Transcript | Path | str,
    protocol: str | None = None,
    *,
    strict: bool = False,
    message: str = "Hello from a streamctl contract test",
    **client: Any,
) -> list[Finding]:
    """Fail with every finding unless ``target`` conforms; return the findings otherwise.

    ``target`` is a :class:`Transcript`, a transcript file, or a server's base URL (then
    ``protocol`` is required: ``message`` is sent and what comes back is checked; ``client``
    takes :class:`~streamctl.core.protocols.exchange.ClientOptions` fields such as ``secret_key``
    or ``token``). MUST findings fail; with ``strict`` SHOULD findings fail too.
    """
    if isinstance(target, str) and target.startswith(("http://", "https://", "ws://", "wss://")):
        if protocol is None:
            raise TypeError("assert_conforms(url, ...) needs the protocol")
        return _assert_live(target, protocol, strict, ClientOptions(message, **client))
    transcript = target if isinstance(target, Transcript) else load(Path(target).read_text())
    findings = check(transcript, get(protocol or transcript.protocol))
    _fail_on(findings, strict, str(target) if not isinstance(target, Transcript) else "transcript")
    return findings


def _assert_live(url: str, protocol: str, strict: bool, options: ClientOptions) -> list[Finding]:
    import asyncio  # noqa: PLC0415

    from streamctl.net import exchange  # noqa: PLC0415

    proto = get(protocol)
    transcripts = asyncio.run(exchange(proto, options, url, [options.message]))
    findings = [f for transcript in transcripts for f in check(transcript, proto)]
    _fail_on(findings, strict, url)
    return findings


def _fail_on(findings: Sequence[Finding], strict: bool, what: str) -> None:
    failing = [f for f in findings if f.level is Level.MUST or strict]
    if failing:
        lines = [f"{what} does not conform ({len(failing)} failing finding(s)):"]
        for f in failing:
            where = "" if f.frame is None else f" frame {f.frame}"
            lines.append(f"  {f.level.value} {f.rule}{where}: {f.message}")
            if f.excerpt:
                lines.append(f"      > {f.excerpt}")
        raise AssertionError("\n".join(lines))
