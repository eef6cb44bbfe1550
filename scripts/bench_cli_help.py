"""Benchmark: wall time of ``streamctl --help`` (target: median <= 150 ms on this machine).

Runs the command N times in fresh processes and prints the median, p90 and minimum, next to a
bare ``python -c pass`` for scale (what the interpreter and site-packages cost before streamctl
runs a line). Uses the installed ``streamctl`` script when there is one, else
``python -m streamctl``. Find what is slow with::

    python -X importtime -m streamctl --help 2> import.log

Usage: python scripts/bench_cli_help.py [--runs 30] [--check]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.150


def command() -> list[str]:
    script = shutil.which("streamctl")
    return [script, "--help"] if script else [sys.executable, "-m", "streamctl", "--help"]


def wall_times(argv: list[str], runs: int, warmup: int = 3) -> list[float]:
    """Seconds per run of ``argv`` (after ``warmup`` runs that fill the OS file cache)."""
    times = []
    for index in range(warmup + runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return times


def describe(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{name:<32} median {statistics.median(times) * 1000:6.1f} ms   "
        f"p90 {p90 * 1000:6.1f} ms   min {ordered[0] * 1000:6.1f} ms   ({len(times)} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs (default 30)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the median misses the target"
    )
    args = parser.parse_args()
    argv = command()
    baseline = wall_times([sys.executable, "-c", "pass"], args.runs)
    help_times = wall_times(argv, args.runs)
    print(describe("python -c pass (interpreter)", baseline))
    print(describe(" ".join(Path(a).name for a in argv), help_times))
    median = statistics.median(help_times)
    verdict = "meets" if median <= TARGET_S else "MISSES"
    print(f"target: median <= {TARGET_S * 1000:.0f} ms: {verdict}")
    return 1 if args.check and median > TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
