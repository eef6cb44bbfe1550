"""The pytest plugin's held streams: a test that forgets to release one does not hang the suite.

The suite below runs in a pytest of its own: its first test leaves a stream held (a client
reading it in a thread, as a browser would be), its second waits for that stream to end. With
the plugin's ``mock_server`` fixture the stream is released when the first test ends; with a
fixture that does not release, the second test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from streamctl.testing import HeldStream, MockServer

SUITE = """
import os
import threading

import httpx

ENDED = threading.Event()


def read(url):
    with httpx.stream("GET", url, params={"message": "hi"}, timeout=None) as response:
        for _ in response.iter_raw():
            pass
    ENDED.set()


def test_leaves_a_stream_held(mock_server):
    mock_server.use({"tokens": ["a", {"hold": "h"}, " b"]}, protocol="sse-delta-done")
    url = mock_server.url("sse-delta-done")
    threading.Thread(target=read, args=(url,), daemon=True).start()
    assert mock_server.held(timeout=30).held_at == "h"


def test_that_stream_ended_with_the_test(mock_server_session):
    assert ENDED.wait(float(os.environ["WAIT_S"]))
"""

#: A ``mock_server`` fixture that resets but never releases, as the plugin's would without it.
NO_RELEASE = """
import pytest

from streamctl.testing import MockServer


@pytest.fixture
def mock_server(mock_server_session):
    server = MockServer(mock_server_session)
    server.reset()
    return server
"""


def _run(tmp_path: Path, wait_s: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_held.py").write_text(SUITE)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "WAIT_S": wait_s},
    )


def test_a_forgotten_held_stream_is_released_when_the_test_ends(tmp_path: Path) -> None:
    result = _run(tmp_path, "60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_without_that_release_the_stream_stays_held(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(NO_RELEASE)
    result = _run(tmp_path, "2")  # what is waited for never comes: the wait only bounds it
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "test_that_stream_ended_with_the_test" in result.stdout


def test_held_gives_a_held_stream_to_step_or_cut(mock_server: MockServer) -> None:
    mock_server.use({"tokens": [{"hold": "h"}, "a", " b"]}, protocol="sse-delta-done")
    url = mock_server.url("sse-delta-done")
    with ThreadPoolExecutor(1) as pool:
        body = pool.submit(lambda: httpx.get(url, params={"message": "x"}, timeout=60).text)
        held = mock_server.held(timeout=30, name="h", protocol="sse-delta-done")
        assert isinstance(held, HeldStream)
        assert (held.held_at, held.position, held.protocol) == ("h", 0, "sse-delta-done")
        assert held.id in repr(held)
        held.step(1)
        again = _held_at(mock_server, 1)
        assert again.id == held.id
        again.cut()
        text = body.result(60)
    assert '"a"' in text
    assert '" b"' not in text
    assert "[DONE]" not in text
    assert mock_server.journal("sse-delta-done")[-1]["outcome"] == "cut"


def _held_at(mock_server: MockServer, position: int) -> HeldStream:
    """The held stream once it holds at ``position`` (a step's release is seen at once)."""
    while True:
        held = mock_server.held(timeout=30)
        if held.position == position:
            return held


def test_held_says_when_nothing_is_held(mock_server: MockServer) -> None:
    with pytest.raises(AssertionError, match=r"no stream held within 0\.2 s"):
        mock_server.held(timeout=0.2)
