"""The request journal: entries live while served, packed when sealed, bounded, oldest first."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from mockserver.journal import MAX_MESSAGES, Entry, Journal
from streamctl.core.redact import REDACTED

HEADERS = [("host", "127.0.0.1"), ("x-secret-key", "s3cret")]


def journal(limit: int = 1000) -> Journal:
    ticks = itertools.count(1)
    return Journal(lambda: float(next(ticks)), limit)


def served(j: Journal, path: str = "/reply", *, seal: bool = True) -> Entry:
    entry = j.open("goose", "POST", path, query="", headers=HEADERS, body=b'{"a": 1}')
    record = entry.reply("default", "default", "hi")
    record["outcome"], record["writes"] = "complete", 3
    entry.status, entry.outcome = 200, "complete"
    if seal:
        j.seal(entry)
    return entry


def test_a_sealed_entry_reads_as_it_was_when_sealed_and_later_changes_are_not_seen() -> None:
    j = journal()
    live = served(j, seal=False)
    before = live.as_dict()
    j.seal(live)
    live.outcome = "changed after the request ended"
    assert j.entries() == [before]
    assert before["headers"] == [["host", "127.0.0.1"], ["x-secret-key", REDACTED]]
    assert before["replies"] == [
        {"scenario": "default", "how": "default", "user_text": "hi", "outcome": "complete",
         "writes": 3}
    ]  # fmt: skip


def test_entries_come_oldest_first_whatever_order_they_finished_in() -> None:
    j = journal()
    first = served(j, "/a", seal=False)
    served(j, "/b")
    served(j, "/c")
    assert [e["path"] for e in j.entries()] == ["/a", "/b", "/c"]
    j.seal(first)
    assert [e["path"] for e in j.entries()] == ["/a", "/b", "/c"]


def test_a_full_journal_drops_the_entry_that_finished_longest_ago_before_one_in_progress() -> None:
    j = journal(limit=3)
    streaming = served(j, "/long", seal=False)
    for path in ("/1", "/2", "/3"):
        served(j, path)
    assert [e["path"] for e in j.entries()] == ["/long", "/2", "/3"]
    assert len(j) == 3
    j.seal(streaming)
    served(j, "/4")  # /2 finished longest ago
    assert [e["path"] for e in j.entries()] == ["/long", "/3", "/4"]


def test_requests_in_progress_are_dropped_oldest_first_when_nothing_has_finished() -> None:
    j = journal(limit=2)
    entries = [served(j, f"/{i}", seal=False) for i in range(3)]
    assert [e["path"] for e in j.entries()] == ["/1", "/2"]
    j.seal(entries[0])  # dropped meanwhile: sealing it brings nothing back
    assert [e["path"] for e in j.entries()] == ["/1", "/2"]


def test_filters_and_clear_see_sealed_and_open_entries_alike() -> None:
    j = journal()
    served(j)
    ws = j.open("chunk-complete", "WS", "/chat/ws", query="", headers=[])
    assert [e["id"] for e in j.entries({"protocol": "chunk-complete"})] == [ws.id]
    assert [e["protocol"] for e in j.entries({"status": "200"})] == ["goose"]
    j.clear()
    j.seal(ws)  # cleared while open: stays gone
    assert j.entries() == []
    assert len(j) == 0


@given(
    body=st.none() | st.binary(max_size=64),
    texts=st.lists(st.text() | st.just("lone \ud800 surrogate"), max_size=3),
    query=st.text(alphabet=st.characters(max_codepoint=255)),
)
def test_sealing_keeps_every_field_exactly(
    body: bytes | None, texts: list[str], query: str
) -> None:
    # Bytes that are not UTF-8 and lone surrogates (a JSON body can escape one) included.
    j = journal()
    entry = j.open("ws-events", "WS", "/ws/chat", query=query, headers=HEADERS, body=body)
    for text in texts:
        entry.message(text)
        entry.reply("scenario", "match", text)
    entry.status, entry.outcome = 101, "closed"
    before = entry.as_dict()
    j.seal(entry)
    assert j.entries() == [before]


def test_a_long_connection_keeps_a_bounded_number_of_replies_the_latest_last() -> None:
    entry = Journal(lambda: 0.0).open("chunk-complete", "WS", "/chat/ws", query="", headers=[])
    for i in range(MAX_MESSAGES + 50):
        entry.message(f"m{i}")
        entry.reply("plain", "default", f"m{i}")["outcome"] = "complete"
    assert len(entry.messages) == len(entry.replies) == MAX_MESSAGES
    assert entry.replies[-1]["user_text"] == f"m{MAX_MESSAGES + 49}"
    assert entry.replies[-2]["user_text"] == f"m{MAX_MESSAGES - 2}"
