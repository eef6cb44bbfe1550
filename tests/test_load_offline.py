"""``streamctl load``'s parts that need no Locust run: options, measurement, isolation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from streamctl.cli.app import app
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Update
from streamctl.core.sse import SSEEvent
from streamctl.locust.measure import FAILURES, Meter, Outcome, Watch, sampled


def load(*args: str) -> Result:
    return CliRunner().invoke(app, ["load", *args], prog_name="streamctl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--master", "--worker"], "--master and --worker cannot be used together"),
        (["--run-time", "soon"], "--run-time must look like 20s"),
        (["-m", "a", "--messages", "x.json"], "--message and --messages cannot be used"),
        (["-m", ""], "--message cannot be empty"),
        (["--messages", "missing.json"], "cannot read messages missing.json"),
    ],
)
def test_bad_options_are_refused_before_locust_starts(args: list[str], message: str) -> None:
    result = load("sse-delta-done", "http://127.0.0.1:9", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_url_must_be_http_or_ws() -> None:
    result = load("sse-delta-done", "ftp://example.com")
    assert result.exit_code == 2
    assert "not an http(s):// or ws(s):// URL" in result.output


def test_the_cli_never_imports_locust_or_gevent() -> None:
    # Locust monkey-patches the standard library when imported: it runs in subprocesses only.
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from streamctl.cli.app import app\n"
        "CliRunner().invoke(app, ['load', '--help'])\n"
        "CliRunner().invoke(app, ['load', 'goose', 'http://x', '--master', '--worker'])\n"
        "import streamctl.locust, streamctl.locust.measure, streamctl.locust.options\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.split(".")[0] in ("locust", "gevent", "zmq")] == []


def test_the_locustfile_defines_the_class_the_command_names() -> None:
    # streamctl load names the class on Locust's command line without importing Locust.
    from streamctl.cli.load_report import LOCUSTFILE, Run

    text = Path(LOCUSTFILE).read_text()
    assert 'protocol.title().replace("-", "")' in text
    run = Run("sse-delta-done", "http://x", 1, 1.0, None, 0, ["hi"], 0.0, 1.0, 1.0)
    assert run.user_class == "SseDeltaDone"


def test_sampling_is_even_and_exact() -> None:
    assert [n for n in range(12) if sampled(n, 0.25)] == [3, 7, 11]
    assert all(sampled(n, 1.0) for n in range(5))
    assert not any(sampled(n, 0.0) for n in range(5))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_meter_times_tokens_and_gaps() -> None:
    clock = Clock()
    meter = Meter(clock=clock)
    meter.start()
    clock.now += 0.2
    meter.update(Update(info="chat 1"))  # not a token
    meter.update(Update(text="Hel"))
    clock.now += 0.05
    meter.update(Update(text="lo"))
    clock.now += 0.15
    meter.update(Update(text="!", done=True))
    meter.received(120)
    meter.end()
    assert meter.ttft_ms == pytest.approx(200.0)
    assert meter.gaps == [pytest.approx(50.0), pytest.approx(150.0)]
    assert meter.tokens_per_s == pytest.approx(2 / 0.2)
    assert meter.total_ms == pytest.approx(400.0)
    assert (meter.tokens, meter.bytes, meter.outcome, meter.failure()) == (3, 120, Outcome.OK, None)


def test_the_first_failure_is_the_outcome() -> None:
    meter = Meter()
    meter.start()
    meter.update(Update(text="a", error="boom"))
    meter.end()  # no terminator either: still the error event
    failure = meter.failure()
    assert isinstance(failure, FAILURES[Outcome.ERROR_EVENT])
    assert type(failure).__name__ == "ErrorEvent"
    assert meter.tokens_per_s is None


def test_a_stream_without_its_terminator_is_truncated() -> None:
    meter = Meter()
    meter.start()
    meter.end()
    assert meter.outcome is Outcome.TRUNCATED
    assert meter.ttft_ms is None


def test_the_watch_applies_the_protocols_own_rules() -> None:
    sse = Watch(get("sse-delta-done"))
    assert sse.sse(SSEEvent(data='{"delta": "hi"}')) == []
    assert [f.rule for f in sse.sse(SSEEvent(data="not json"))] == ["sse-delta-done.json"]
    ws = Watch(get("chunk-complete"))
    assert [f.rule for f in ws.message("[1]")] == ["chunk-complete.json"]
    assert [f.level.value for f in ws.message('{"type": "nope"}')] == ["MUST"]


def test_this_test_process_is_never_monkey_patched() -> None:
    # Locust runs in subprocesses only; pytest's locust plugin imports it only on demand.
    assert "locust" not in sys.modules
    assert "gevent" not in sys.modules
