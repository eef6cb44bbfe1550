#!/usr/bin/env python3
"""Benchmark: how fast the conformance checker gets through a long transcript.

For every registered protocol it renders a 100,000-token reply with the protocol's own server
side, records it as a transcript (one wire write per record, as a real capture would be), and
times ``check()`` on it. Target (issue 2): >= 100,000 events/s on one core.

Usage: python scripts/bench_check.py [--events N] [--repeat R] [--protocol NAME]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamctl.core.check import check  # noqa: E402
from streamctl.core.protocols import get, names  # noqa: E402
from streamctl.core.protocols.base import (  # noqa: E402
    Accepted,
    HttpRequest,
    Out,
    Settings,
    SSEProtocol,
    Turn,
    WSProtocol,
)
from streamctl.core.script import Script, Token  # noqa: E402
from streamctl.core.transcript import (  # noqa: E402
    End,
    Frame,
    Header,
    Record,
    Request,
    Response,
    Transcript,
)


def sse_outs(proto: SSEProtocol, script: Script) -> tuple[list[Out], Response]:
    state = proto.new_state(Settings(clock=lambda: 1_700_000_000.0))
    for request in _requests(proto):
        accepted = proto.accept(request, state)
        if isinstance(accepted, Accepted):
            return list(proto.render(script, accepted.turn, state)), Response(200, accepted.headers)
    raise SystemExit(f"{proto.name}: no sample request is accepted")


def _requests(proto: SSEProtocol) -> list[HttpRequest]:
    """A request the protocol accepts, built from its own client."""
    from streamctl.core.protocols.base import ClientOptions

    sample = proto.client(ClientOptions("benchmark", secret_key="test")).request()
    path, _, query = sample.target.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    headers = {k.lower(): v for k, v in sample.headers}
    endpoint = proto.stream_endpoint.path
    path_params = {}
    for want, got in zip(endpoint.split("/"), path.split("/"), strict=False):
        if want.startswith("{"):
            path_params[want.strip("{}")] = got
    from urllib.parse import unquote_plus

    query_params = {k: unquote_plus(v) for k, v in params.items()}
    return [HttpRequest(sample.method, path, query_params, headers, sample.body or b"", path_params)]


def ws_outs(proto: WSProtocol, script: Script) -> tuple[list[Record], Response]:
    from streamctl.core.protocols.base import ClientOptions
    from streamctl.core.jwt import mint_dev_token  # type: ignore[import-not-found,unused-ignore]

    settings = Settings(clock=lambda: 1_700_000_000.0)
    token = mint_dev_token(settings.jwt_secret, now=1_700_000_000.0)
    session = proto.open(proto.new_state(settings))
    client = proto.client(ClientOptions("benchmark", token=token))
    records: list[Record] = [Frame(0, "server", m) for m in session.greeting()]
    pending = list(client.opening())
    turn: Turn | None = None
    while pending:
        text = pending.pop(0)
        records.append(Frame(0, "client", text))
        reaction = session.receive(text)
        for message in reaction.send:
            records.append(Frame(0, "server", message))
            pending.extend(client.on_message(message).send)
        turn = reaction.turn or turn
    assert turn is not None, "the client never started a turn"
    records += [Frame(0, "server", o.payload) for o in session.render(script, turn)]
    return records, Response(101)


def transcript_for(name: str, events: int) -> Transcript:
    proto = get(name)
    script = Script(tuple(Token(f" tok{i}") for i in range(events)))
    request = Request("GET", "/")
    if isinstance(proto, SSEProtocol):
        outs, response = sse_outs(proto, script)
        records: list[Record] = [Frame(float(i), "server", o.payload) for i, o in enumerate(outs)]
    else:
        assert isinstance(proto, WSProtocol)
        records, response = ws_outs(proto, script)
    records.append(End(float(len(records)), "complete"))
    return Transcript(Header(name, proto.transport, request, response), tuple(records))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--protocol", action="append", choices=names())
    args = parser.parse_args()
    print(f"{'protocol':<16} {'events':>8} {'findings':>8} {'best s':>8} {'events/s':>10}")
    for name in args.protocol or names():
        transcript = transcript_for(name, args.events)
        times, findings = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            findings = check(transcript)
            times.append(time.perf_counter() - start)
        best = min(times)
        rate = args.events / best
        print(f"{name:<16} {args.events:>8} {len(findings):>8} {best:>8.3f} {rate:>10,.0f}"
              f"   (median {statistics.median(times):.3f} s)")
        for finding in findings[:3]:
            print(f"    {finding.rule}: {finding.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
