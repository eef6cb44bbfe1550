"""Decoders cost what they read, however long a line is (issue 16).

Before: the SSE decoder joined each chunk onto the whole unfinished line, so a line that came
in many chunks cost its length times the chunks: one 50 MB line took 16 s, 200 MB of NUL bytes
did not finish in 90 s. The NDJSON reader did the same. The bound is on CPU time (this
process's, not the wall clock, so a busy machine does not fail it), with a margin of about
fifty times what the linear decoder needs; the quadratic one needed more than a hundred times.
"""

from __future__ import annotations

import time

from streamctl.core.protocols.message_stream.wire import NDJSONDecoder
from streamctl.core.sse import SSEDecoder

LINE = 16 * 1024 * 1024
CHUNK = 2048
CPU_BUDGET = 3.0  # seconds; the linear decoders take about 0.05 s here


def test_one_long_sse_line_in_small_chunks_costs_its_length() -> None:
    decoder = SSEDecoder()
    piece = b"x" * CHUNK
    start = time.process_time()
    decoder.feed(b"data: ")
    for _ in range(LINE // CHUNK):
        assert decoder.feed(piece) == []
    (event,) = decoder.feed(b"\n\n")
    assert time.process_time() - start < CPU_BUDGET
    assert len(event.data) == LINE


def test_a_stream_of_nul_bytes_without_a_line_end_is_read_to_its_end() -> None:
    decoder = SSEDecoder()
    piece = b"\0" * 65536
    start = time.process_time()
    for _ in range(LINE // len(piece)):
        assert decoder.feed(piece) == []
    assert decoder.close() == []
    assert time.process_time() - start < CPU_BUDGET
    assert [p.code for p in decoder.problems] == ["incomplete-event"]


def test_a_crlf_split_across_chunks_still_ends_one_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # the LF of the CRLF, nothing more
    (event,) = decoder.feed(b"\n")
    assert event.data == "a"
    assert decoder.eol_counts["\r\n"] == 1


def test_one_long_ndjson_line_in_small_chunks_costs_its_length() -> None:
    decoder = NDJSONDecoder()
    piece = b"x" * CHUNK
    start = time.process_time()
    decoder.feed(b'{"a":"')
    for _ in range(LINE // CHUNK):
        assert decoder.feed(piece) == []
    (line,) = decoder.feed(b'"}\n')
    assert time.process_time() - start < CPU_BUDGET
    assert len(line) == LINE + 8
    assert decoder.feed(b"") == []
