"""The mock server's configuration: one frozen object, built by ``streamctl serve`` or a test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mockserver.bundled import bundled_dir
from streamctl.core.protocols.exchange import Settings
from streamctl.core.protocols.goose.state import GooseSettings
from streamctl.core.protocols.ws_events.server import DEFAULT_JWT_SECRET, WsEventsSettings
from streamctl.engine.clock import Clock, RealClock

__all__ = ["DEFAULT_JWT_SECRET", "ServerConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs; every field has a working default.

    ``speed`` multiplies scripted and recorded delays (1: as written; 0: as fast as possible).
    ``cors_origins`` empty means any localhost origin (``http(s)://localhost:*``,
    ``127.0.0.1:*``, ``[::1]:*``); ``"*"`` in it allows every origin.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    scenario_dirs: tuple[Path, ...] = ()
    bundled: bool = True
    speed: float = 1.0
    goose_secret: str = "test"
    jwt_secret: str = DEFAULT_JWT_SECRET
    goose_variant: str = "b"
    cors_origins: tuple[str, ...] = ()
    #: Names besides localhost, 127.0.0.1, [::1] and ``host`` the ``Host`` header may carry
    #: (``"*"``: any); see docs/security.md.
    allowed_hosts: tuple[str, ...] = ()
    #: Seconds a request body may take to arrive in full before the client is answered 408
    #: (0: no limit); see mockserver/deadline.py.
    body_timeout_s: float = 30.0
    #: When set, the admin API wants ``Authorization: Bearer <admin_token>``.
    admin_token: str = ""
    workers: int = 1
    #: Event loop (``mockserver.loops.LOOPS``): ``auto`` is uvloop where it is installed.
    loop: str = "auto"
    #: HTTP/WebSocket server (``mockserver.engines.ENGINES``): hypercorn or uvicorn.
    server: str = "hypercorn"
    watch: bool = True
    watch_interval_s: float = 1.0
    #: Seconds without any stream before freed memory is given back to the OS (0: never).
    trim_idle_s: float = 2.0
    #: Delay between the tokens of the default reply (before ``speed`` scales it).
    default_delay_ms: float = 0.0
    #: How many requests the journal keeps (those that finished longest ago dropped first).
    journal_limit: int = 1000
    #: Record a transcript of every stream exchange (what each client was sent), kept like the
    #: journal; also switched on and off through the admin API.
    record: bool = False
    #: Server-wide faults (``--fault``, see docs/faults.md), each stream getting them with
    #: probability ``fault_rate``, drawn from a generator seeded with ``seed``.
    faults: tuple[str, ...] = ()
    fault_rate: float = 1.0
    seed: int | None = None
    #: SSE protocols whose events carry ``id:`` lines (and honour ``Last-Event-ID``).
    sse_ids: tuple[str, ...] = ()
    #: Log each request on stderr when it is over (``streamctl serve`` does unless ``-q``),
    #: with ``log_events`` every event sent and received too; ``log_format``: text or json.
    log_requests: bool = False
    log_events: bool = False
    log_format: str = "text"
    #: Serve ``/`` as this protocol's server does (``--as``, e.g. goose web's page); the
    #: playground then lives at ``/playground`` only.
    serve_as: str | None = None
    #: Hold every reply after this many tokens until released (``--hold-after``; see
    #: docs/scenarios.md, held streams).
    hold_after: int | None = None
    #: Accept permessage-deflate when a WebSocket client offers it (``--ws-deflate``). Off by
    #: default: token messages are too short to gain from it, and each compressing connection
    #: keeps a zlib state of about 130 KB (see mockserver/hyperfix.py).
    ws_deflate: bool = False
    #: How many open streams the admin API lists and can hold (past it, replies just play).
    stream_limit: int = 10_000
    #: Pacing clock (monotonic); tests inject a fake one.
    clock: Clock = field(default_factory=RealClock, compare=False)
    #: Wall clock for timestamps in messages and the journal.
    wall_clock: Callable[[], float] = field(default=time.time, compare=False)

    def settings(self) -> Settings:
        """What the protocols need to know: each protocol's own settings, by its name."""
        goose = GooseSettings(secret=self.goose_secret, variant=self.goose_variant)
        ws_events = WsEventsSettings(jwt_secret=self.jwt_secret)
        return Settings(self.wall_clock, {"goose": goose, "ws-events": ws_events})

    def scenario_sources(self) -> tuple[Path, ...]:
        """The directories scenarios load from: the bundled one first, then the user's."""
        bundled = (bundled_dir(),) if self.bundled else ()
        return (*bundled, *self.scenario_dirs)
