"""The SSE codec against WHATWG HTML §9.2.6 "Interpreting an event stream"."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streamctl.core.sse import Problem, SSEDecoder, SSEEvent, decode, encode_comment, encode_event

FAST = settings(max_examples=150, deadline=None)


def feed_all(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEDecoder]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return events, decoder


def visible(events: list[SSEEvent]) -> list[tuple[str, str, str]]:
    """What a page's ``onmessage`` handlers would see: (type, data, lastEventId)."""
    return [(e.type, e.data, e.id) for e in events]


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


# --- the specification's own examples ------------------------------------------------------


def test_spec_example_multiline_data() -> None:
    events, problems = decode(b"data: YHOO\ndata: +2\ndata: 10\n\n")
    assert visible(events) == [("message", "YHOO\n+2\n10", "")]
    assert events[0].fields == ("data", "data", "data")
    assert problems == []


def test_spec_example_comment_ids_and_leading_space() -> None:
    stream = (
        b": test stream\n"
        b"\n"
        b"data: first event\n"
        b"id: 1\n"
        b"\n"
        b"data:second event\n"
        b"id\n"
        b"\n"
        b"data:  third event\n"
        b"\n"
    )
    decoder = SSEDecoder()
    first = decoder.feed(stream[: stream.index(b"data:second")])
    # "... will then set the last event ID to "1"": a reconnection now would send it.
    assert visible(first) == [("message", "first event", "1")]
    assert decoder.last_event_id == "1"
    rest = decoder.feed(stream[stream.index(b"data:second") :]) + decoder.close()
    # A bare "id" resets the last event ID; only one leading space is stripped.
    assert visible(rest) == [("message", "second event", ""), ("message", " third event", "")]
    assert decoder.last_event_id == ""
    assert decoder.problems == []
    # The comment-only first block fires nothing; its comment is kept on the next event.
    assert first[0].comments == ("test stream",)
    assert decoder.comment_count == 1


def test_spec_example_event_types() -> None:
    stream = (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    )
    events, problems = decode(stream)
    assert [(e.type, e.data) for e in events] == [
        ("add", "73857293"),
        ("remove", "2153"),
        ("add", "113411"),
    ]
    assert problems == []


def test_spec_example_empty_data_and_discarded_last_block() -> None:
    events, problems = decode(b"data\n\ndata\ndata\n\ndata:")
    # "data" alone is an empty data line; two of them give a single newline.
    assert [e.data for e in events] == ["", "\n"]
    # The last block is not followed by a blank line: it is discarded, and that is reported.
    assert codes(problems) == ["incomplete-event"]
    assert problems[0].line == 6


def test_spec_example_data_with_and_without_space() -> None:
    events, problems = decode(b"data:test\n\ndata: test\n\n")
    assert visible(events) == [("message", "test", "")] * 2
    assert problems == []


def test_data_colon_alone_is_empty_string() -> None:
    events, _ = decode(b"data:\n\n")
    assert [e.data for e in events] == [""]


# --- byte level: BOM, line endings, UTF-8 --------------------------------------------------


def test_bom_stripped_once_at_start_only() -> None:
    events, _ = decode(b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n")
    # The second BOM starts a line, so that line's field is named "\ufeffdata".
    assert [e.data for e in events] == ["a"]
    events, problems = decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n")
    assert events == []
    assert codes(problems) == ["unknown-field", "event-without-data"]
    assert "'\\ufeffdata'" in problems[0].message


def test_bom_split_across_chunks_is_still_stripped() -> None:
    events, decoder = feed_all([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])
    assert [e.data for e in events] == ["a"]
    assert decoder.problems == []


def test_bom_only_stripped_at_the_very_start() -> None:
    events, _ = feed_all([b"data: \xef\xbb\xbfa\n\n"])
    assert [e.data for e in events] == ["\ufeffa"]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_each_line_ending(eol: str) -> None:
    stream = eol.join(["event: e", "data: a", "data: b", "", "data: c", "", ""]).encode()
    decoder = SSEDecoder()
    events = decoder.feed(stream) + decoder.close()
    assert visible(events) == [("e", "a\nb", ""), ("message", "c", "")]
    assert decoder.eol_counts == {e: (6 if e == eol else 0) for e in ("\n", "\r\n", "\r")}


def test_mixed_line_endings() -> None:
    events, problems = decode(b"data: a\rdata: b\r\ndata: c\n\r\n")
    assert [e.data for e in events] == ["a\nb\nc"]
    assert problems == []


def test_crlf_split_between_cr_and_lf_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    # The CR ends the line at once; the LF in the next chunk must not count as a blank line.
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    events = decoder.feed(b"\n\r") + decoder.close()
    assert [e.data for e in events] == ["a\nb"]
    assert decoder.eol_counts == {"\n": 0, "\r\n": 2, "\r": 1}
    assert decoder.problems == []


def test_crlf_split_with_empty_chunks_in_between() -> None:
    events, decoder = feed_all([b"data: a\r", b"", b"\n", b"\r", b"", b"\n"])
    assert [e.data for e in events] == ["a"]
    assert decoder.eol_counts["\r\n"] == 2


def test_lf_after_cr_followed_by_text_is_a_blank_line() -> None:
    # Regression: a chunk whose CR was followed by more text must not swallow the next LF.
    events, decoder = feed_all([b"data: a\rdata: b", b"\n\n"])
    assert [e.data for e in events] == ["a\nb"]
    assert decoder.problems == []


def test_multibyte_character_split_across_chunks() -> None:
    stream = "data: h€llo 😀\n\n".encode()
    start = stream.index("😀".encode())
    chunks = [stream[: start + 1], stream[start + 1 : start + 3], stream[start + 3 :]]
    events, decoder = feed_all(chunks)
    assert [e.data for e in events] == ["h€llo 😀"]
    assert decoder.problems == []


def test_invalid_utf8_becomes_replacement_character() -> None:
    events, problems = decode(b"data: a\xffb\n\ndata: ok\n\ndata: \xc3(\n\n")
    assert [e.data for e in events] == ["a\ufffdb", "ok", "\ufffd("]
    assert codes(problems) == ["invalid-utf8", "invalid-utf8"]
    assert [p.line for p in problems] == [1, 5]


def test_invalid_utf8_one_replacement_per_maximal_subpart() -> None:
    # WHATWG "UTF-8 decode": a truncated 3-byte sequence is one U+FFFD, not one per byte; a
    # byte that cannot start or continue a sequence is one each.
    events, problems = decode(b"data: \xe2\x82A\xf0\x80\x80\n\n")
    assert [e.data for e in events] == ["\ufffdA\ufffd\ufffd\ufffd"]
    assert codes(problems) == ["invalid-utf8"]
    assert "4 ill-formed" in problems[0].message


def test_invalid_utf8_report_does_not_depend_on_chunking() -> None:
    stream = b"data: \xff\n\ndata: \xfe\n\n"
    whole, whole_problems = decode(stream)
    events, decoder = feed_all([bytes([b]) for b in stream])
    assert events == whole
    assert decoder.problems == whole_problems
    assert [p.line for p in whole_problems] == [1, 3]


def test_truncated_utf8_at_end_of_stream() -> None:
    events, problems = decode(b"data: ok\n\ndata: \xe2\x82")
    assert [e.data for e in events] == ["ok"]
    assert codes(problems) == ["invalid-utf8", "incomplete-event"]
    assert [p.line for p in problems] == [3, 3]


# --- fields --------------------------------------------------------------------------------


def test_comments_and_pings_attach_to_next_event() -> None:
    stream = b":\n\n: keep-alive\n\n:x\ndata: a\n: inside\n\ndata: b\n\n"
    decoder = SSEDecoder()
    events = decoder.feed(stream) + decoder.close()
    assert events[0].comments == ("", "keep-alive", "x", "inside")
    assert events[1].comments == ()
    assert decoder.comment_count == 4
    assert decoder.problems == []
    assert events[0].line == 5


def test_unknown_field_is_ignored_and_reported() -> None:
    events, problems = decode(b"data: a\nfoo: bar\n Data: x\n\n")
    assert visible(events) == [("message", "a", "")]
    assert events[0].fields == ("data", "foo", " Data")
    assert codes(problems) == ["unknown-field", "unknown-field"]
    assert [p.line for p in problems] == [2, 3]
    assert "'foo'" in problems[0].message


def test_field_without_colon_has_empty_value() -> None:
    events, problems = decode(b"event\ndata\n\n")
    assert visible(events) == [("message", "", "")]
    assert problems == []


def test_only_first_colon_splits_and_only_one_space_is_stripped() -> None:
    events, _ = decode(b"data:  a: b\n\n")
    assert [e.data for e in events] == [" a: b"]


def test_retry_with_digits_sets_reconnection_time() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 3000\ndata: a\n\ndata: b\n\n")
    assert [e.retry for e in events] == [3000, None]
    assert decoder.reconnection_time == 3000
    assert events[0].as_dict() == {"type": "message", "data": "a", "id": "", "retry": 3000}


@pytest.mark.parametrize("value", ["1a", "\u0661\u0662", "", "  5", "-1", "1.5", "\uff15"])
def test_retry_not_ascii_digits_is_ignored(value: str) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(f"retry: 10\n\nretry:{value}\ndata: a\n\n".encode())
    assert [e.retry for e in events] == [None]
    assert decoder.reconnection_time == 10
    # A retry-only block is legitimate (it sets the reconnection time), so only the bad value
    # is reported.
    assert codes(decoder.problems) == ["retry-not-digits"]
    assert decoder.problems[0].line == 3


def test_id_with_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert visible(events) == [("message", "a", "1"), ("message", "b", "1")]
    assert codes(decoder.problems) == ["id-contains-nul"]
    assert decoder.problems[0].line == 4
    assert decoder.last_event_id == "1"


def test_last_event_id_persists_across_events() -> None:
    events, _ = decode(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\ndata: d\n\n")
    assert [e.id for e in events] == ["7", "7", "8", "8"]


def test_id_only_block_updates_last_event_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\n\n") == []
    assert decoder.last_event_id == "5"
    assert decoder.feed(b"data: x\n\n")[0].id == "5"


def test_id_of_discarded_trailing_block_is_not_the_last_event_id() -> None:
    # The last event ID string only changes when a block ends (spec: "dispatch the event").
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    decoder.close()
    assert decoder.last_event_id == "1"


def test_event_without_data_dispatches_nothing() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\n\nevent: ping\n\ndata: b\n\n")
    # The "event" of the dataless block does not leak into the next event.
    assert visible(events) == [("message", "a", ""), ("message", "b", "")]
    assert codes(decoder.problems) == ["event-without-data"]
    assert decoder.problems[0].line == 3
    assert "['event']" in decoder.problems[0].message


def test_trailing_block_without_blank_line_is_discarded_at_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b\nevent: x\n") == [
        SSEEvent("a", fields=("data",), line=1)
    ]
    assert decoder.problems == []
    assert decoder.close() == []
    assert decoder.problems == [
        Problem(
            "incomplete-event",
            "stream ended inside an event (no blank line after it): it was discarded",
            3,
        )
    ]


def test_unterminated_last_line_is_discarded_at_close() -> None:
    events, problems = decode(b"data: a\n\ndata: b")
    assert [e.data for e in events] == ["a"]
    assert problems == [Problem("incomplete-event", problems[0].message, 3)]


def test_clean_end_of_stream_reports_nothing() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n: bye\n")
    assert decoder.close() == []
    assert decoder.problems == []


def test_event_line_and_fields() -> None:
    events, _ = decode(b"data: a\n\n\n\nevent: e\nid: 3\ndata: b\n\n")
    assert events[1] == SSEEvent(
        data="b", type="e", id="3", fields=("event", "id", "data"), comments=(), line=5
    )


def test_decode_helper_returns_events_and_problems() -> None:
    events, problems = decode(b"data: a\n\nbogus\n\n")
    assert [e.as_dict() for e in events] == [
        {"type": "message", "data": "a", "id": "", "retry": None}
    ]
    assert codes(problems) == ["unknown-field", "event-without-data"]


# --- the encoder ---------------------------------------------------------------------------


def test_encode_event_all_fields() -> None:
    assert (
        encode_event("a", event="delta", id="4", retry=100)
        == b"event: delta\nid: 4\nretry: 100\ndata: a\n\n"
    )


def test_encode_event_multiline_data_and_eol() -> None:
    assert encode_event("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode_event("", eol="\r\n") == b"data: \r\n\r\n"
    assert encode_event("x", eol="\r") == b"data: x\r\r"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "a\nb"}, "event must not contain CR or LF"),
        ({"event": "a\rb"}, "event must not contain CR or LF"),
        ({"id": "1\n"}, "id must not contain CR or LF"),
        ({"id": "1\x00"}, "id must not contain NULL"),
        ({"retry": -1}, "retry must be a non-negative integer"),
        ({"eol": "\n\n"}, "eol must be one of"),
        ({"eol": ""}, "eol must be one of"),
    ],
)
def test_encode_event_rejects(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        encode_event("x", **kwargs)  # type: ignore[arg-type]


def test_encode_comment() -> None:
    assert encode_comment() == b":\n\n"
    assert encode_comment("ping") == b": ping\n\n"
    assert encode_comment("ping", eol="\r\n") == b": ping\r\n\r\n"
    with pytest.raises(ValueError, match="comment must not contain CR or LF"):
        encode_comment("a\nb")
    with pytest.raises(ValueError, match="eol must be one of"):
        encode_comment("a", eol="x")
    decoder = SSEDecoder()
    events = decoder.feed(encode_comment("ping") + encode_event("a"))
    assert events[0].comments == ("ping",)


# --- properties ----------------------------------------------------------------------------

# Field values: any text without line breaks, heavy on multi-byte characters and SSE syntax.
values = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(": \x00\ufeffaé€😀\u0661")),
        st.characters(exclude_characters="\r\n", codec="utf-8"),
    ),
    max_size=8,
)
names = st.sampled_from(["data", "data", "data", "event", "id", "retry", "foo", "Data", ""])
field_lines = st.one_of(
    st.builds(lambda n, v: f"{n}:{v}", names, values),
    st.builds(lambda n, v: f"{n}: {v}", names, values),
    st.builds(lambda n, d: f"{n}:{d}", st.just("retry"), st.integers(0, 10**6).map(str)),
    names.filter(bool),  # a field name with no colon
)
lines = st.one_of(
    field_lines,
    field_lines,
    values.map(lambda v: ":" + v),  # a comment
    st.just(""),  # a blank line: dispatch
)
eols = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def streams(draw: st.DrawFn, invalid: bool = False) -> bytes:
    parts = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    for line in draw(st.lists(lines, max_size=25)):
        parts.append(line.encode())
        if invalid and draw(st.integers(0, 5)) == 0:
            parts.append(draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc3", b"\xed\xa0\x80"])))
        parts.append(draw(eols).encode())
    if draw(st.booleans()):
        parts.append(draw(lines).encode())  # a trailing unterminated line
    return b"".join(parts)


def reference(stream: bytes) -> tuple[list[tuple[str, str, str]], str]:
    """A literal transcription of §9.2.6 for a whole stream: (type, data, lastEventId)."""
    text = stream.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    *complete, _unterminated = re.split(r"\r\n|\r|\n", text)
    events = []
    data = event_type = id_buffer = last_event_id = ""
    for line in complete:
        if line == "":
            last_event_id = id_buffer
            if data:
                events.append((event_type or "message", data.removesuffix("\n"), last_event_id))
            data = event_type = ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event_type = value
        elif name == "data":
            data += value + "\n"
        elif name == "id" and "\x00" not in value:
            id_buffer = value
    return events, last_event_id


def split_at(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@FAST
@given(streams(invalid=True), st.lists(st.integers(min_value=0), max_size=12))
def test_chunking_never_changes_the_result(stream: bytes, cuts: list[int]) -> None:
    whole, decoder = feed_all([stream])
    state = (
        decoder.problems,
        decoder.last_event_id,
        decoder.reconnection_time,
        decoder.eol_counts,
        decoder.comment_count,
    )
    for chunks in ([bytes([b]) for b in stream], split_at(stream, cuts)):
        events, other = feed_all(chunks)
        assert events == whole
        assert (
            other.problems,
            other.last_event_id,
            other.reconnection_time,
            other.eol_counts,
            other.comment_count,
        ) == state


@FAST
@given(streams(invalid=True))
def test_decoder_matches_the_spec_algorithm(stream: bytes) -> None:
    events, decoder = feed_all([stream])
    expected_events, expected_last_id = reference(stream)
    assert visible(events) == expected_events
    assert decoder.last_event_id == expected_last_id
    try:
        stream.decode("utf-8")
    except UnicodeDecodeError:
        assert "invalid-utf8" in codes(decoder.problems)
    else:
        assert "invalid-utf8" not in codes(decoder.problems)


# Whole events, one per chunk, as servers write them: most are the plain `event:` + `data:`
# events the decoder takes without its line loop; the rest must still go through it.
plain_event = st.builds(
    lambda name, data: ([f"event: {name}"] if name is not None else []) + [f"data:{data}"],
    st.none() | values,
    values,
)
any_event = st.lists(lines.filter(bool), max_size=3)


@st.composite
def event_chunks(draw: st.DrawFn) -> list[bytes]:
    chunks = []
    for event in draw(st.lists(st.one_of(plain_event, plain_event, any_event), max_size=12)):
        eol = draw(eols)
        text = "".join(line + eol for line in event) + eol
        if draw(st.integers(0, 3)) == 0:  # a stray line ending or bad byte inside the event
            cut = draw(st.integers(0, len(text)))
            extra = draw(st.sampled_from(["\r", "\n", "\udcff"]))
            text = text[:cut] + extra + text[cut:]
        chunks.append(text.encode("utf-8", "surrogateescape"))
    return chunks


@FAST
@given(event_chunks())
@example([b"data: a\rb\r\n\r\n", b"event: x\r\ndata: y\n\r\n\r\n"])
def test_an_event_per_chunk_decodes_as_byte_by_byte(chunks: list[bytes]) -> None:
    events, decoder = feed_all(chunks)
    stream = b"".join(chunks)
    expected, other = feed_all([bytes([b]) for b in stream])
    assert events == expected
    assert (
        decoder.problems,
        decoder.last_event_id,
        decoder.eol_counts,
        decoder.comment_count,
        decoder._line,
    ) == (other.problems, other.last_event_id, other.eol_counts, other.comment_count, other._line)
    assert (visible(events), decoder.last_event_id) == reference(stream)


no_eol = st.text(alphabet=st.characters(exclude_characters="\r\n", codec="utf-8"), max_size=10)


@FAST
@given(
    data=st.text(max_size=30),
    event=st.none() | no_eol,
    id=st.none() | no_eol.filter(lambda s: "\x00" not in s),
    retry=st.none() | st.integers(min_value=0, max_value=10**9),
    eol=eols,
)
def test_encode_then_decode_round_trips(
    data: str, event: str | None, id: str | None, retry: int | None, eol: str
) -> None:
    encoded = encode_event(data, event=event, id=id, retry=retry, eol=eol)
    events, problems = decode(encoded)
    assert problems == []
    assert len(events) == 1
    assert events[0].as_dict() == {
        "type": event or "message",
        "data": re.sub(r"\r\n|\r|\n", "\n", data),
        "id": id or "",
        "retry": retry,
    }


def test_id_only_and_retry_only_blocks_are_legitimate_but_an_event_only_block_is_not() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\nretry: 3000\n\nevent: done\n\n") == []
    assert (decoder.last_event_id, decoder.reconnection_time) == ("7", 3000)
    assert [(p.code, p.line) for p in decoder.problems] == [("event-without-data", 5)]
