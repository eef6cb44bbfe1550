"""pytest plugin: a live mock server per session, reset for every test, and a stream recorder.

Registered through the ``pytest11`` entry point, so installing streamctl is all a project needs.
The server is a real Hypercorn on an ephemeral loopback port, started on first use; its
scripted delays are skipped (``streamctl_speed`` in the ini file changes that)::

    def test_my_client_shows_the_reply(mock_server):
        mock_server.use({"reply": "Hello!"}, protocol="sse-delta-done")
        assert my_client.ask(mock_server.url("sse-delta-done"), "hi") == "Hello!"

Nothing heavy is imported until a test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockserver.testing import LiveServer
    from streamctl.testing import MockServer, StreamRecorder

__all__ = ["mock_server", "mock_server_session", "pytest_addoption", "stream_recorder"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "streamctl_speed",
        "streamctl mock server: multiplier of scripted delays (0: as fast as possible)",
        default="0",
    )
    parser.addini(
        "streamctl_scenarios",
        "streamctl mock server: extra scenario directories (one per line)",
        type="paths",
        default=[],
    )
    parser.addini(
        "streamctl_serve_as",
        "streamctl mock server: answer / as this protocol's server does (goose-web: the Goose "
        "Chat page; the playground moves to /playground), like streamctl serve --as",
        default="",
    )


@pytest.fixture(scope="session")
def mock_server_session(pytestconfig: pytest.Config) -> Iterator[LiveServer]:
    """The session's mock server (reset by ``mock_server`` before each test that uses it)."""
    from mockserver.config import ServerConfig  # noqa: PLC0415 (only when a test needs it)
    from mockserver.testing import LiveServer  # noqa: PLC0415
    from streamctl.core.protocols import REGISTRY  # noqa: PLC0415

    serve_as = pytestconfig.getini("streamctl_serve_as") or None
    with_pages = [p.name for p in REGISTRY.values() if p.pages()]
    if serve_as is not None and serve_as not in with_pages:
        known = ", ".join(with_pages)
        raise pytest.UsageError(f"streamctl_serve_as: {serve_as!r} is not one of {known}")
    config = ServerConfig(
        watch=False,
        record=True,
        speed=float(pytestconfig.getini("streamctl_speed")),
        scenario_dirs=tuple(pytestconfig.getini("streamctl_scenarios")),
        serve_as=serve_as,
    )
    with LiveServer(config) as server:
        yield server


@pytest.fixture
def mock_server(mock_server_session: LiveServer) -> Iterator[MockServer]:
    """The mock server, with every protocol, reset: no chats, sessions, queued or added
    scenarios, journal or recordings left from another test. Streams still held when the
    test ends are released, so a client waiting on one does not hang the suite."""
    from streamctl.testing import MockServer  # noqa: PLC0415

    server = MockServer(mock_server_session)
    server.reset()
    yield server
    server.release_all(free=True)


@pytest.fixture
def stream_recorder(mock_server: MockServer) -> StreamRecorder:
    """What each client under test was sent during this test, as transcripts."""
    from streamctl.testing import StreamRecorder  # noqa: PLC0415

    return StreamRecorder(mock_server)
