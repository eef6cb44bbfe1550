"""Shared fixtures: one real mock server for the whole session, reset before each test."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import settings

from mockserver.testing import LiveServer

# No property test fails because the machine is slow: Hypothesis' default 200 ms deadline per
# example failed one on a loaded CI machine (673 ms for an example that takes 0.1 ms).
settings.register_profile("streamctl", deadline=None)
settings.load_profile("streamctl")


@pytest.fixture(scope="session")
def live_server_session(mock_server_session: LiveServer) -> LiveServer:
    """The mock server of streamctl's own pytest plugin (``streamctl.pytest_plugin``): a real
    Hypercorn on a pre-bound ``127.0.0.1:0`` socket in a thread, scripted delays skipped
    (``speed=0``) and every exchange recorded."""
    return mock_server_session


@pytest.fixture
def live_server(live_server_session: LiveServer) -> LiveServer:
    """The session's mock server, reset through the admin API (chats, sessions, queues,
    journal) before the test."""
    response = httpx.post(live_server_session.url("/_streamctl/reset"), json={}, timeout=10)
    response.raise_for_status()
    return live_server_session
