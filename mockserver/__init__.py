"""The streamctl mock server: every chat-streaming protocol on one Quart + Hypercorn server.

``create_app(config)`` builds the app; ``mockserver.run.serve(config)`` runs it on Hypercorn;
``mockserver.testing.LiveServer`` runs it on an ephemeral loopback port for tests.
"""

from __future__ import annotations

from mockserver.app import MockApp, create_app
from mockserver.config import ServerConfig

__all__ = ["MockApp", "ServerConfig", "create_app"]
