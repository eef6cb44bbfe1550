"""Shared fixtures: one real mock server for the whole session, reset before each test."""

from __future__ import annotations

import httpx
import pytest

from mockserver.testing import LiveServer


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
