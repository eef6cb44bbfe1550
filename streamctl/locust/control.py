"""Run-level parts: ending a run once every user held its ``--conversations``, and
streamctl's summary of the run.

Ending by count, not by time, makes totals exact whatever the machine's speed and however the
users are spread over processes. Each process counts its users as they finish; workers tell
the master. When the master (or a single process) has heard from as many users as it
started, it stops without re-dispatching and tells the workers to send their last statistics
and quit; the run then ends as Locust's does when its last worker leaves.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, RequestStats, StatsCSV, StatsEntry

__all__ = ["PERCENTILES", "summary", "user_finished"]

USER_DONE = "streamctl_user_done"
FINISH = "streamctl_finish"
PERCENTILES = (0.5, 0.9, 0.95, 0.99)


@dataclass
class _Progress:
    """This process's count of finished users (master or single process only)."""

    done: int = 0
    spawned: bool = False
    finishing: bool = False


_progress = _Progress()
#: This process's environment (``spawning_complete`` does not pass it to listeners).
_environment: list[Environment] = []


def user_finished(environment: Environment) -> None:
    """A user held all its conversations (called from the user's greenlet)."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(USER_DONE)
    else:
        _count(environment)


def _count(environment: Environment, **_: Any) -> None:
    _progress.done += 1
    _maybe_finish(environment)


def _maybe_finish(environment: Environment) -> None:
    runner = environment.runner
    if runner is None or _progress.finishing or not _progress.spawned:
        return
    if _progress.done < runner.target_user_count:
        return
    _progress.finishing = True
    if isinstance(runner, MasterRunner):
        # Stopped first, a master does not hand a leaving worker's users to the others.
        runner.stop(send_stop_to_client=False)
        runner.send_message(FINISH)
    else:
        gevent.spawn(runner.quit)


def _finish_worker(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)
    runner._send_stats()  # what is not reported yet, before the quit message
    runner.quit()


def _on_init(environment: Environment, **_: Any) -> None:
    _environment[:] = [environment]
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(USER_DONE, _count)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(FINISH, _finish_worker, concurrent=True)


def _on_test_start(environment: Environment, **_: Any) -> None:
    _progress.done, _progress.spawned, _progress.finishing = 0, False, False


def _on_spawned(user_count: int, **_: Any) -> None:
    if not _environment:
        return
    environment = _environment[0]
    if isinstance(environment.runner, WorkerRunner):
        return
    _progress.spawned = True
    if _needs_limit(environment):
        _maybe_finish(environment)


def _needs_limit(environment: Environment) -> bool:
    parsed = environment.parsed_options
    return bool(parsed is not None and getattr(parsed, "conversations", 0))


# --- the summary ---------------------------------------------------------------------------


def _entry(entry: StatsEntry) -> dict[str, Any]:
    percentiles = {f"p{round(p * 100)}": entry.get_response_time_percentile(p) for p in PERCENTILES}
    return {
        "type": entry.method,
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "min": entry.min_response_time,
        "avg": round(entry.avg_response_time, 3),
        **percentiles,
        "max": entry.max_response_time,
        "avg_size": round(entry.avg_content_length, 3),
        "total_size": entry.total_content_length,
        "rps": round(entry.total_rps, 3),
    }


def summary(stats: RequestStats, environment: Environment) -> dict[str, Any]:
    """The run's statistics and failures as plain JSON data."""
    runner = environment.runner
    return {
        "users": None if runner is None else runner.target_user_count,
        "entries": [_entry(e) for e in sorted(stats.entries.values(), key=_order)],
        "failures": [
            {
                "type": e.method,
                "name": e.name,
                "error": e.parse_error(e.error),
                "count": e.occurrences,
            }
            for e in sorted(stats.errors.values(), key=lambda e: -e.occurrences)
        ],
    }


_NAMES = ("first token", "stream", "token gap", "tokens/s", "check")


def _order(entry: StatsEntry) -> tuple[int, str, str]:
    name = str(entry.name)
    return (_NAMES.index(name) if name in _NAMES else len(_NAMES), name, str(entry.method))


def _write_summary(environment: Environment, **_: Any) -> None:
    parsed = environment.parsed_options
    if parsed is None or isinstance(environment.runner, WorkerRunner):
        return
    path = getattr(parsed, "summary_file", None)
    if path:
        data = summary(environment.stats, environment)
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    prefix = getattr(parsed, "csv_prefix", None)
    if prefix:
        _final_csv(environment, prefix)


def _final_csv(environment: Environment, prefix: str) -> None:
    """Write Locust's stats and failures CSV files with the final figures.

    Locust rewrites them every second and not at the end (locustio/locust#2299): a run that
    ends by count within that second would leave them without its last turns.
    """
    tables = StatsCSV(environment, PERCENTILES_TO_REPORT)
    for suffix, write in (("stats", tables.requests_csv), ("failures", tables.failures_csv)):
        with open(f"{prefix}_{suffix}.csv", "w", newline="", encoding="utf-8") as file:
            write(csv.writer(file))


def _listen(hook: Any, listener: Any) -> None:
    hook.add_listener(listener)  # Locust's event hooks are untyped


_listen(events.init, _on_init)
_listen(events.test_start, _on_test_start)
_listen(events.spawning_complete, _on_spawned)
_listen(events.quitting, _write_summary)
