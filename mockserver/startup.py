"""What ``streamctl serve`` needs before the server stack: the socket, the banner, the
configuration as text, and the names the serving process finds them under.

Free of the server stack (Quart, Hypercorn): the command-line process checks its options, binds
and hands over (streamctl/cli/handover.py) without importing it; only the serving process does.
"""

from __future__ import annotations

import json
import socket
from dataclasses import fields
from pathlib import Path
from typing import Any

from mockserver.config import ServerConfig
from mockserver.loops import loop_name
from streamctl.core.protocols import REGISTRY

__all__ = [
    "ADMIN_PREFIX",
    "BACKLOG",
    "BANNER_VAR",
    "CONFIG_ENV",
    "FD_VAR",
    "PLAYGROUND_PATH",
    "banner",
    "bind",
    "dump_config",
    "load_config",
]

#: Where the admin API answers.
ADMIN_PREFIX = "/_streamctl"
#: Where the playground always answers (and only there with ``serve --as``).
PLAYGROUND_PATH = "/playground"
#: Pending connections the kernel queues (Hypercorn's default of 100 drops a burst of clients).
BACKLOG = 2048
#: The configuration as JSON in the environment: what ``streamctl serve`` hands its serving
#: process (``python -m mockserver.serving``), and what a multi-worker server hands its workers.
CONFIG_ENV = "STREAMCTL_SERVER_CONFIG"
#: The bound socket's descriptor and the banner to print, for the serving process.
FD_VAR = "STREAMCTL_SERVE_FD"
BANNER_VAR = "STREAMCTL_SERVE_BANNER"
_SERIALISED = ("clock", "wall_clock")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port). Raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Tokens are small writes that must leave at once (Hypercorn sets this only on sockets it
    # binds itself; accepted sockets inherit it).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _origin(host: str, port: int, scheme: str) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


def banner(config: ServerConfig, port: int, scenarios: int) -> str:
    """What ``streamctl serve`` prints at start: every protocol's URLs and the admin API."""
    http, ws = _origin(config.host, port, "http"), _origin(config.host, port, "ws")
    lines = [
        f"streamctl mock server on {http} (speed {config.speed:g}, {scenarios} scenarios, "
        f"{_engine(config)}{loop_name(config.loop)}; Ctrl-C to stop)"
    ]
    for proto in REGISTRY.values():
        for i, endpoint in enumerate(proto.endpoints):
            base = ws if endpoint.method == "WS" else http
            label = proto.name if i == 0 else ""
            lines.append(f"  {label:<16} {endpoint.method:<6} {base}{endpoint.path}")
    if config.serve_as is not None:
        lines.append(f"  {'/':<16} {'':<6} {http}/  (as {config.serve_as})")
    lines.append(f"  {'playground':<16} {'':<6} {http}{_playground(config)}")
    lines.append(f"  {'admin':<16} {'':<6} {http}{ADMIN_PREFIX}")
    if config.faults:
        share = "every stream" if config.fault_rate >= 1 else f"{config.fault_rate:.0%} of streams"
        seed = "" if config.seed is None else f", seed {config.seed}"
        lines.append(f"  faults on {share}{seed}: {' '.join(config.faults)}")
    if config.hold_after is not None:
        lines.append(
            f"  every reply held after {config.hold_after} tokens: "
            f"release with POST {http}{ADMIN_PREFIX}/streams/release"
        )
    return "\n".join(lines)


def _engine(config: ServerConfig) -> str:
    return "" if config.server == "hypercorn" else f"{config.server}, "


def _playground(config: ServerConfig) -> str:
    return PLAYGROUND_PATH if config.serve_as is not None else "/"


def dump_config(config: ServerConfig) -> str:
    """The configuration as JSON (the clocks are not carried: workers use real ones)."""
    data: dict[str, Any] = {
        f.name: getattr(config, f.name) for f in fields(config) if f.name not in _SERIALISED
    }
    data["scenario_dirs"] = [str(p) for p in config.scenario_dirs]
    data["cors_origins"] = list(config.cors_origins)
    data["allowed_hosts"] = list(config.allowed_hosts)
    return json.dumps(data)


def load_config(text: str) -> ServerConfig:
    data = json.loads(text)
    data["scenario_dirs"] = tuple(Path(p) for p in data["scenario_dirs"])
    data["cors_origins"] = tuple(data["cors_origins"])
    for name in ("faults", "sse_ids", "allowed_hosts"):
        data[name] = tuple(data.get(name, ()))
    return ServerConfig(**data)
