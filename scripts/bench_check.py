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
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamctl.core.check import check
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import get, names
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    HttpRequest,
    Out,
    Settings,
    Turn,
)
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol
from streamctl.core.protocols.ws_events.server import DEFAULT_JWT_SECRET
from streamctl.core.script import Script, Token
from streamctl.core.transcript import (
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
    sample = proto.client(ClientOptions("benchmark", secret_key="test")).request()
    url = urlsplit(sample.target)
    pattern = proto.stream_endpoint.path.split("/")
    path_params = {
        want.strip("{}"): got
        for want, got in zip(pattern, url.path.split("/"), strict=False)
        if want.startswith("{")
    }
    headers = {k.lower(): v for k, v in sample.headers}
    query = dict(parse_qsl(url.query))
    return [HttpRequest(sample.method, url.path, query, headers, sample.body or b"", path_params)]


def ws_outs(proto: WSProtocol, script: Script) -> tuple[list[Record], Response]:

    settings = Settings(clock=lambda: 1_700_000_000.0)
    token = mint_dev_token(DEFAULT_JWT_SECRET, now=1_700_000_000.0)
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
    # CPU time of this process is what "on one core" means, and unlike wall time it does not
    # depend on what else the machine is doing; wall time is shown beside it.
    print(
        f"{'protocol':<16} {'events':>8} {'findings':>8} {'cpu s':>7} {'events/s':>10} "
        f"{'wall s':>7}"
    )
    for name in args.protocol or names():
        transcript = transcript_for(name, args.events)
        cpu, wall, findings = [], [], []
        for _ in range(args.repeat):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            findings = check(transcript)
            cpu.append(time.process_time() - start_cpu)
            wall.append(time.perf_counter() - start_wall)
        best = min(cpu)
        print(
            f"{name:<16} {args.events:>8} {len(findings):>8} {best:>7.3f} "
            f"{args.events / best:>10,.0f} {statistics.median(wall):>7.3f}"
        )
        for finding in findings[:3]:
            print(f"    {finding.rule}: {finding.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
