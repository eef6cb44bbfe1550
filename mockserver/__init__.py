"""The streamctl mock server: every chat-streaming protocol on one Quart + Hypercorn server.

``create_app(config)`` builds the app; ``mockserver.run.serve(config)`` runs it on Hypercorn;
``mockserver.testing.LiveServer`` runs it on an ephemeral loopback port for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.app import MockApp, create_app
    from mockserver.config import ServerConfig

__all__ = ["MockApp", "ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """The app and its configuration, imported when first asked for: ``import mockserver.X``
    for a light module (``streamctl serve`` checking its options) does not load the server."""
    if name in ("MockApp", "create_app"):
        from mockserver import app  # noqa: PLC0415

        return getattr(app, name)
    if name == "ServerConfig":
        from mockserver.config import ServerConfig  # noqa: PLC0415

        return ServerConfig
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
