"""``streamctl load``'s Locust process and its summary: the command line it is given, how it
is started, and the table printed from the summary it writes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamctl.errors import UsageError

__all__ = ["Run", "as_json", "failures", "render", "run_locust", "turns"]

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locust" / "locustfile.py"
#: Rows of the summary, in this order (others follow by name).
ROWS = ("first token", "stream", "token gap", "tokens/s", "check")
UNITS = {"tokens/s": "tokens/s", "check": "ms (checker)"}


@dataclass
class Run:
    """What ``streamctl load`` was asked for (secrets excepted: they go by environment)."""

    protocol: str
    url: str
    users: int
    spawn_rate: float
    run_time: str | None
    conversations: int
    messages: list[str]
    check_rate: float
    stall: float
    timeout: float
    headers: list[str] = field(default_factory=list)
    session: str | None = None
    chat: str | None = None
    ndjson: bool = False
    debug: bool = False

    @property
    def user_class(self) -> str:
        """The class :mod:`streamctl.locust.locustfile` defines for the protocol."""
        return self.protocol.title().replace("-", "")

    def argv(self) -> list[str]:
        """Locust's command line for this run (without distribution and report options)."""
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
        argv += ["--host", self.url, "-u", str(self.users), "-r", f"{self.spawn_rate:g}"]
        # Without --debug Locust keeps quiet: Python's last-resort handler shows only its
        # warnings and errors (its tables would repeat the summary).
        argv += ["--loglevel", "INFO"] if self.debug else ["--skip-log-setup", "--only-summary"]
        argv += ["--run-time", self.run_time] if self.run_time else []
        argv += ["--conversations", str(self.conversations)] if self.conversations else []
        for message in self.messages:
            argv += ["--message", message]
        argv += ["--check-rate", f"{self.check_rate:g}", "--stall", f"{self.stall:g}"]
        argv += ["--turn-timeout", f"{self.timeout:g}"]
        for header in self.headers:
            argv += ["--stream-header", header]
        argv += ["--session", self.session] if self.session else []
        argv += ["--chat", self.chat] if self.chat else []
        argv += ["--ndjson"] if self.ndjson else []
        return argv


def _locust_installed() -> None:
    if importlib.util.find_spec("locust") is None:
        raise UsageError(
            "streamctl load needs Locust, an optional dependency: pip install 'streamctl[load]'"
        )


def run_locust(
    run: Run, argv: list[str], secrets: dict[str, str], *, expect_summary: bool
) -> dict[str, Any] | None:
    """Run Locust to its end (its own messages go to stderr) and return the summary it wrote.

    ``None`` for a worker, which writes none.
    """
    _locust_installed()
    env = {**os.environ, **secrets}
    with tempfile.TemporaryDirectory(prefix="streamctl-load-") as scratch:
        path = Path(scratch) / "summary.json"
        command = [*argv, "--summary-file", str(path), run.user_class]
        status = _run(command, env)
        if not expect_summary:
            if status.returncode not in (0, 1):
                raise UsageError(f"the Locust worker stopped with status {status.returncode}")
            return None
        try:
            summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(
                f"Locust stopped without a result (status {status.returncode}); "
                "its messages are above"
            ) from None
    return summary


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run Locust; stdout is for the summary, so whatever Locust prints goes to stderr."""
    try:
        stderr = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        status = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
        sys.stderr.write(status.stdout)
        return status
    return subprocess.run(command, env=env, stdout=stderr, text=True, check=False)


def _entries(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return list(summary.get("entries", []))


def _entry(summary: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((e for e in _entries(summary) if e["name"] == name), None)


def turns(summary: dict[str, Any]) -> int:
    stream = _entry(summary, "stream")
    return 0 if stream is None else int(stream["requests"])


def failures(summary: dict[str, Any], name: str) -> int:
    """How many ``name`` requests failed (``stream``: turns; ``check``: checked transcripts)."""
    entry = _entry(summary, name)
    return 0 if entry is None else int(entry["failures"])


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value) >= 10 else f"{value:.1f}"


def render(run: Run, summary: dict[str, Any]) -> str:
    """The summary as a table a person reads (milliseconds unless the row says otherwise)."""
    head = (
        f"{run.protocol} load on {_redacted(run.url)}: {summary.get('users') or run.users} users, "
        f"{turns(summary)} turns, {failures(summary, 'stream')} failed"
    )
    checks = _entry(summary, "check")
    if checks is not None:
        head += f"; {checks['requests']} checked, {checks['failures']} nonconformant"
    columns = ("requests", "failures", "p50", "p90", "p99", "max")
    lines = [head, "", f"{'':<12}" + "".join(f"{c:>10}" for c in columns) + "  unit"]
    for entry in _entries(summary):
        cells = [str(entry["requests"]), str(entry["failures"])]
        cells += [_number(entry[c]) for c in columns[2:]]
        unit = UNITS.get(entry["name"], "ms")
        lines.append(f"{entry['name']:<12}" + "".join(f"{c:>10}" for c in cells) + f"  {unit}")
    stream = _entry(summary, "stream")
    if stream is not None and stream["requests"]:
        lines.append(f"{'':<12}{stream['avg_size']:.0f} bytes a turn on average")
    errors = summary.get("failures") or []
    if errors:
        lines += ["", "failures by type:"]
        lines += [f"{f['count']:>10}  {f['name']}: {f['error']}" for f in errors]
    return "\n".join(lines)


def _redacted(url: str) -> str:
    from streamctl.core.redact import redact_target  # noqa: PLC0415

    return redact_target(url)


def as_json(run: Run, summary: dict[str, Any]) -> str:
    """The summary with what was asked for, as JSON."""
    asked = {k: v for k, v in asdict(run).items() if k not in ("debug",)}
    asked["url"] = _redacted(run.url)
    return json.dumps({"run": asked, **summary}, indent=2, ensure_ascii=False)
