#!/usr/bin/env python3
"""Peak memory and time of one big goose ``POST /reply`` in the real server (issue 16).

Starts ``streamctl serve --speed 0 -q`` on a free loopback port, posts an era-B body of
``--mib`` MiB made of many tiny messages (the worst case for a parser that builds objects per
value), reads the whole reply, then ``GET /sessions/{id}`` of the stored conversation. Prints
the server's RSS before, its peak (``VmHWM``) and the growth, against the issue's bound
(3 times the body + 60 MB). Linux only (reads ``/proc``).

Usage: python scripts/bench_goose_body.py [--mib 50] [--root DIR]
  --root: the checkout to run (default: this one), to compare with another revision.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20
TINY = b'{"role":"user","created":1,"content":[{"type":"text","text":"hi"}]},'
HEADERS = {"content-type": "application/json", "x-secret-key": "test"}


def body_of(mib: int) -> bytes:
    count = (mib * MB - 200) // len(TINY)
    head = b'{"session_id":"big","session_working_dir":"/w","messages":['
    return head + TINY * count + TINY[:-1] + b"]}"


def status(pid: int, name: str) -> int:
    """A ``/proc/PID/status`` figure in MB."""
    with open(f"/proc/{pid}/status") as lines:
        line = next(line for line in lines if line.startswith(name + ":"))
    return int(line.split()[1]) // 1024


def main(args: argparse.Namespace) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(args.root).resolve()
    command = [sys.executable, "-m", "streamctl", "serve", "--port", str(port), "-q"]
    command += ["--no-watch", "--speed", "0"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    server = subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/status")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1)
        body = body_of(args.mib)
        before = status(server.pid, "VmRSS")
        started = time.monotonic()
        reply = httpx.post(f"{base}/reply", content=body, headers=HEADERS, timeout=600)
        took = time.monotonic() - started
        peak = status(server.pid, "VmHWM")
        bound = 3 * len(body) // MB + 60
        print(
            f"POST /reply of {len(body) / MB:.0f} MiB: {reply.status_code} in {took:.1f} s; "
            f"RSS {before} MB before, peak {peak} MB: +{peak - before} MB (bound +{bound} MB)"
        )
        started = time.monotonic()
        session = httpx.get(f"{base}/sessions/big", headers=HEADERS, timeout=600)
        print(
            f"GET /sessions/big: {session.status_code}, {len(session.content) / MB:.0f} MiB "
            f"in {time.monotonic() - started:.1f} s; peak {status(server.pid, 'VmHWM')} MB"
        )
        return 0 if peak - before <= bound else 1
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--root", default=str(ROOT))
    sys.exit(main(parser.parse_args()))
