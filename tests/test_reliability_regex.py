"""A hostile ``match`` pattern cannot stall the server: patterns run on RE2 (linear time).

On Python's ``re``, ``^(a+)+$`` against 30 ``a`` and a ``!`` takes minutes (it doubles with each
character); these tests would hang into their generous timeouts there, not pass.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mockserver.testing import LiveServer
from streamctl.engine.patterns import PatternError, compile_pattern
from streamctl.engine.scenarios import ScenarioError, load_dirs

JSON = {"Content-Type": "application/json"}
CATASTROPHIC = ["^(a+)+$", "(a|a)*b", "(a*)*c", "^(\\w+\\s?)*$"]
#: Far beyond what a backtracking engine finishes (each extra character doubles its time).
LONG = "a" * 5000 + "!"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_answer_at_once(pattern: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.search(LONG) is None
    assert compiled.pattern == pattern


def test_patterns_keep_python_s_syntax_for_what_scenarios_use() -> None:
    assert compile_pattern("(?i)\\bweather\\b").search("How's the WEATHER?") is not None
    assert compile_pattern("^hi$").search("hi there") is None
    assert compile_pattern("caf\u00e9|\\d{3}").search("order 123") is not None


def test_a_lone_surrogate_in_the_message_is_searched_not_raised() -> None:
    assert compile_pattern("hi").search("hi \ud800") is not None
    assert compile_pattern("x").search("\udfff") is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(?=a)b", "invalid perl operator"), ("(a)\\1", "invalid escape"), ("(", "missing )")],
)
def test_what_re2_cannot_run_is_refused_with_its_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern)
    assert reason in str(refused.value)


def test_a_scenario_file_with_lookaround_is_refused_when_it_loads(tmp_path: Path) -> None:
    (tmp_path / "ahead.json").write_text(json.dumps({"match": "(?=x)y", "reply": "no"}))
    with pytest.raises(ScenarioError, match=r"ahead\.json.*RE2 syntax"):
        load_dirs([tmp_path])


def test_a_hostile_pattern_added_through_the_admin_api_stalls_nobody(
    live_server: LiveServer,
) -> None:
    scenario = {"match": "^(a+)+$", "reply": "matched"}
    added = httpx.post(
        live_server.url("/_streamctl/scenarios?name=evil"), json=scenario, headers=JSON
    )
    assert added.status_code == 201
    url = live_server.url("/api/chat/stream")

    def ask(message: str) -> str:
        with httpx.stream("GET", url, params={"message": message}, timeout=60) as response:
            return response.read().decode()

    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(ask, "a" * 30 + "!")
        other = pool.submit(ask, "hello")
        assert '"You"' in other.result(timeout=60)
        assert '"You"' in hostile.result(timeout=60)  # no match: the default reply
    assert '"matched"' in ask("a" * 5000)
    refused = httpx.post(
        live_server.url("/_streamctl/scenarios?name=ahead"),
        json={"match": "(?<=a)b", "reply": "x"},
        headers=JSON,
    )
    assert refused.status_code == 422
    assert "RE2" in refused.json()["detail"]
