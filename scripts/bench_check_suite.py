#!/usr/bin/env python3
"""Benchmark: how long a full contract-suite check of one protocol takes against a local server.

Starts the mock server (Hypercorn on 127.0.0.1:0, in this process's background thread), then
runs ``streamctl check PROTOCOL URL`` (every probe of the suite, as a user would) in a fresh
process, timing it from start to exit. Target (issue 14): <= 10 s per protocol.

Usage: python scripts/bench_check_suite.py [--protocol NAME]... [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockserver.testing import LiveServer
from streamctl.core.protocols import names

TARGET_S = 10.0


def one_run(protocol: str, server: LiveServer) -> tuple[float, int, str]:
    """Seconds for one full-suite check (a new process, start-up included), its exit status
    and its summary line."""
    command = [sys.executable, "-m", "streamctl", "check", protocol, server.base_url]
    command += [
        "--secret-key",
        server.config.goose_secret,
        "--jwt-secret",
        server.config.jwt_secret,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    return elapsed, done.returncode, lines[-1] if lines else done.stderr.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", action="append", choices=names())
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    worst = 0.0
    server = LiveServer().start()
    try:
        for protocol in args.protocol or names():
            times = []
            for _ in range(args.repeat):
                elapsed, code, summary = one_run(protocol, server)
                if code != 0:
                    print(f"{protocol}: check exited {code}: {summary}")
                    return 1
                times.append(elapsed)
            worst = max(worst, *times)
            print(
                f"{protocol:<15} median {statistics.median(times):5.2f} s  "
                f"max {max(times):5.2f} s  ({summary})"
            )
    finally:
        server.stop()
    verdict = "ok" if worst <= TARGET_S else "OVER"
    print(f"slowest full suite: {worst:.2f} s (target <= {TARGET_S:g} s): {verdict}")
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
