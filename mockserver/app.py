"""The app factory: every registered protocol on one Quart app.

Quart serves the admin API, the index and the protocols' non-streaming routes; the streaming
endpoints are answered by :class:`~mockserver.front.Front` in front of Quart's ASGI entry point
(see ``front.py`` for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from quart import Quart

from mockserver.admin import admin_blueprint
from mockserver.asgi import ASGIApp, Receive, Scope, Send
from mockserver.config import ServerConfig
from mockserver.front import Front
from mockserver.hyperfix import install as install_hypercorn_fixes
from mockserver.hyperlean import install as install_lean_hypercorn
from mockserver.logwriter import write_stderr
from mockserver.playground import playground_blueprint
from mockserver.requestlog import RequestLog, logged
from mockserver.routes import register_routes
from mockserver.state import ServerState
from mockserver.wsframes import install as install_ws_frames

__all__ = ["MockApp", "create_app"]

log = logging.getLogger("mockserver")


class MockApp(Quart):
    """A Quart app whose ASGI entry point first offers each request to the stream front."""

    def __init__(self, server: ServerState) -> None:
        super().__init__("mockserver")
        self.server = server
        self.front = Front(server, partial(Quart.asgi_app, self))
        #: What Hypercorn's calls reach: the front, or the request log in front of it.
        self.entry: ASGIApp = self.front
        self._watcher: asyncio.Task[None] | None = None

    async def asgi_app(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == "lifespan":
            await self.entry(scope, receive, send)
            return
        self.server.call_began()  # the idle trim waits for every call to end
        try:
            await self.entry(scope, receive, send)
        finally:
            self.server.call_ended()


def create_app(config: ServerConfig | None = None) -> MockApp:
    """A ready-to-serve app. Raises :class:`~streamctl.engine.scenarios.ScenarioError` when a
    scenario file cannot be loaded."""
    config = config or ServerConfig()
    install_hypercorn_fixes()
    install_lean_hypercorn()
    install_ws_frames()
    app = MockApp(ServerState(config))
    app.register_blueprint(admin_blueprint(app.server))
    app.register_blueprint(playground_blueprint(app.server))
    register_routes(app, app.server)
    if config.log_requests or config.log_events:
        log = RequestLog(
            write_stderr,  # from a thread: a full stderr pipe must not block the loop
            requests=config.log_requests,
            events=config.log_events,
            as_json=config.log_format == "json",
        )
        app.entry = logged(app.front, log, app.server.journal)
    if config.watch:
        app.before_serving(partial(_start_watching, app))
        app.after_serving(partial(_stop_watching, app))
    return app


async def _start_watching(app: MockApp) -> None:
    app._watcher = asyncio.create_task(_watch(app.server))


async def _stop_watching(app: MockApp) -> None:
    if app._watcher is not None:
        app._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app._watcher


async def _watch(server: ServerState) -> None:
    """Reload the scenario files when they change on disk (mtime polling, no dependency)."""
    config = server.config
    while True:
        await config.clock.sleep(config.watch_interval_s)
        try:
            server.reload_if_changed()
        except Exception:
            log.exception("watching the scenario files failed")
