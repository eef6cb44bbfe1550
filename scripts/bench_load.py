"""How much load one machine drives with ``streamctl load``, and what our users cost.

Starts the mock server (``streamctl serve``, a process of its own), then:

1. **Ramp**: ``streamctl load sse-delta-done`` at rising user counts on a paced scenario
   (``slow``: a token every 100 ms), each for ``--run-time``; per step the turns, time to
   first token and token-gap percentiles, failures, and the CPU the server and the load
   generator (every Locust process) used. Where TTFT and gaps leave the script's pacing
   (100 ms to the first token, 100 ms apart), something saturated: the CPU columns say which.
2. **Per-user cost**: the same endpoint and scenario, one Locust process, the same number of
   users, with our ``SseDeltaDone`` user and with Locust's plain ``HttpUser`` (which reads the
   whole body: no first token, no gaps, no checks). CPU milliseconds per stream and per user
   second, and the largest resident set.

The machine's load average is printed with every figure: on a shared machine the figures
swing between runs, so compare rows taken side by side.

    python scripts/bench_load.py --users 100,250,500 --run-time 20s
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PLAIN_LOCUSTFILE = """
import os

from locust import HttpUser, constant, task


class Plain(HttpUser):
    wait_time = constant(0)

    @task
    def stream(self):
        params = {"message": "Hello from streamctl load", "scenario": os.environ["SCENARIO"]}
        self.client.get("/api/chat/stream", params=params)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "streamctl", "serve", "--port", str(port), "--no-watch"]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_streamctl/health", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the mock server did not start")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def measured(command: list[str], server: int) -> tuple[float, float, float]:
    """Run ``command``; wall seconds, its CPU seconds (its children's included: Locust's
    worker processes are waited for), and the server's CPU seconds meanwhile."""
    server_before, ours_before, start = cpu_of(server), children_cpu(), time.monotonic()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - start
    return wall, children_cpu() - ours_before, cpu_of(server) - server_before


def rows(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in summary["entries"]}


def ramp(url: str, server: int, users: list[int], args: argparse.Namespace) -> None:
    print(f"ramp: sse-delta-done {url}, --run-time {args.run_time}, --processes {args.processes}")
    print(
        f"{'users':>6} {'turns':>6} {'fail':>5} {'ttft p50':>9} {'p99':>7} {'gap p50':>8} "
        f"{'p99':>7} {'server cpu':>11} {'locust cpu':>11}  load avg"
    )
    for count in users:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "summary.json"
            command = [
                sys.executable, "-m", "streamctl", "load", "sse-delta-done", url,
                "--users", str(count), "--spawn-rate", str(args.spawn_rate),
                "--run-time", args.run_time, "--json", str(out),
            ]  # fmt: skip
            command += ["--processes", str(args.processes)] if args.processes else []
            wall, ours, theirs = measured(command, server)
            summary = rows(json.loads(out.read_text()))
        first, gap, stream = summary["first token"], summary["token gap"], summary["stream"]
        print(
            f"{count:>6} {stream['requests']:>6} {stream['failures']:>5} {first['p50']:>7}ms "
            f"{first['p99']:>5}ms {gap['p50']:>6}ms {gap['p99']:>5}ms "
            f"{100 * theirs / wall:>10.0f}% {100 * ours / wall:>10.0f}%  {load_average()}"
        )


def _streams(name: str, scratch: Path) -> int:
    if name == "HttpUser":
        entries = json.loads((scratch / "plain.json").read_text())
        return int(sum(e["num_requests"] for e in entries))
    return int(rows(json.loads((scratch / "ours.json").read_text()))["stream"]["requests"])


def _commands(
    base: str, users: str, run_time: str, scratch: Path, rate: float
) -> dict[str, list[str]]:
    plain = scratch / "plain.py"
    plain.write_text(PLAIN_LOCUSTFILE)
    return {
        "SseDeltaDone": [
            sys.executable, "-m", "streamctl", "load", "sse-delta-done",
            f"{base}?scenario={os.environ['SCENARIO']}", "--users", users, "--spawn-rate",
            str(rate), "--run-time", run_time, "--json", str(scratch / "ours.json"),
        ],
        "HttpUser": [
            sys.executable, "-m", "locust", "-f", str(plain), "--host", base, "--headless",
            "-u", users, "-r", str(rate), "-t", run_time, "--json-file",
            str(scratch / "plain"), "--skip-log-setup",
        ],
    }  # fmt: skip


def cost(base: str, server: int, args: argparse.Namespace) -> None:
    """CPU per stream at the margin: two runs of each class, short and long; the difference
    in CPU over the difference in streams leaves start-up (imports, spawning) out."""
    os.environ["SCENARIO"] = args.cost_scenario
    users, short, long = str(args.cost_users), args.short_time, args.run_time
    print(
        f"\nper-user cost: {users} users, scenario {args.cost_scenario}, one Locust process, "
        f"runs of {short} and {long}"
    )
    print(f"{'user class':<14} {'streams':>9} {'cpu s':>9} {'cpu ms/stream':>14}  load avg")
    for name in ("SseDeltaDone", "HttpUser"):
        measured_runs = []
        for run_time in (short, long):
            with tempfile.TemporaryDirectory() as scratch:
                command = _commands(base, users, run_time, Path(scratch), args.spawn_rate)[name]
                _, cpu, _ = measured(command, server)
                measured_runs.append((_streams(name, Path(scratch)), cpu))
        (few, cpu_few), (many, cpu_many) = measured_runs
        per = 1000 * (cpu_many - cpu_few) / max(many - few, 1)
        counts, cpus = f"{few}/{many}", f"{cpu_few:.1f}/{cpu_many:.1f}"
        print(f"{name:<14} {counts:>9} {cpus:>9} {per:>14.2f}  {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="100,250,500", help="user counts of the ramp")
    parser.add_argument("--spawn-rate", type=float, default=100.0)
    parser.add_argument("--run-time", default="20s")
    parser.add_argument("--processes", type=int, default=2, help="Locust worker processes")
    parser.add_argument("--scenario", default="slow")
    parser.add_argument("--cost-users", type=int, default=100)
    parser.add_argument("--short-time", default="10s", help="the short run of the cost pair")
    parser.add_argument("--cost-scenario", default="plain")
    parser.add_argument("--skip-ramp", action="store_true")
    args = parser.parse_args()
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    print(f"{os.cpu_count()} CPUs, load average {load_average()} before the runs")
    try:
        if not args.skip_ramp:
            url = f"{base}?scenario={args.scenario}"
            ramp(url, server.pid, [int(u) for u in args.users.split(",")], args)
        cost(base, server.pid, args)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
