"""What a stream request asks of the mock: read off the request, removed from its query."""

from __future__ import annotations

import pytest

from mockserver.directives import Asks, read
from streamctl.engine.fault_parsing import parse_many
from streamctl.engine.reply import Refused


def test_the_query_comes_first_and_the_asks_leave_the_query() -> None:
    raw = b"message=hi&scenario=plain&fault=delay:ms=5&fault=jitter:ms=1&ids=1"
    query = {"message": "hi", "scenario": "plain", "fault": "delay:ms=5", "ids": "1"}
    headers = {"x-streamctl-scenario": "slow", "x-streamctl-fault": "stall:ms=9"}
    asks = read(raw, query, headers)
    faults = parse_many(["delay:ms=5", "jitter:ms=1", "stall:ms=9"])
    assert asks == Asks("plain", faults, ids=True)
    assert query == {"message": "hi"}  # the protocol sees what a real backend would


def test_headers_alone_and_no_asks_at_all() -> None:
    assert read(b"", {}, {"x-streamctl-scenario": "slow"}) == Asks("slow")
    assert read(b"ids=0", {"ids": "0"}, {}) == Asks()


def test_a_fault_spec_that_cannot_be_used_is_refused_with_the_bad_part_named() -> None:
    with pytest.raises(Refused) as refused:
        read(b"fault=nope", {"fault": "nope"}, {})
    assert (refused.value.response.status, refused.value.outcome) == (400, "bad-fault")
    assert b"unknown fault 'nope'" in refused.value.response.body
