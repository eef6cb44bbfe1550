"""The exception tree and the exit-code table, in one place.

* :class:`StreamctlError` — anything streamctl reports as a one-line error
    * :class:`UsageError` — bad arguments or unreadable input files (2)
    * :class:`CheckFailed` — ``check`` found failing findings (1)
    * :class:`LoadFailed` — ``load`` saw failed turns (1)
    * :class:`TransportError` — the exchange could not happen or broke
        * :class:`Unreachable` — no connection to the server (3)
        * :class:`ConnectionLost` — the connection dropped, or the stream stopped short (9)
        * :class:`StreamTimeout` — ``--timeout`` ran out (8)
    * :class:`RefusedError` — the server answered, but not with a stream
        * :class:`UpgradeRefused` — the WebSocket upgrade was refused (4)
        * :class:`HttpStatusError` — an HTTP error status (5)
        * :class:`WrongContentType` — a body that is not the stream asked for (6)
    * :class:`ProtocolErrorEvent` — the stream carried the protocol's own error event (7)

The network adapters (:mod:`streamctl.net`) translate httpx and websockets exceptions into
these where they enter; the CLI turns them into a message on stderr and their exit code.
"""

from __future__ import annotations

import enum
from typing import ClassVar

__all__ = [
    "CheckFailed",
    "ConnectionLost",
    "ExitCode",
    "HttpStatusError",
    "LoadFailed",
    "ProtocolErrorEvent",
    "RefusedError",
    "StreamTimeout",
    "StreamctlError",
    "TransportError",
    "Unreachable",
    "UpgradeRefused",
    "UsageError",
    "WrongContentType",
]


class ExitCode(enum.IntEnum):
    """Every exit status of ``streamctl`` (documented in docs/cli.md)."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    UPGRADE_REFUSED = 4
    HTTP_STATUS = 5
    CONTENT_TYPE = 6
    PROTOCOL_ERROR = 7
    TIMEOUT = 8
    CONNECTION_LOST = 9
    INTERNAL = 70  # sysexits EX_SOFTWARE: a bug in streamctl
    INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success: the stream completed (for `check`: nothing failed)",
    ExitCode.CHECK_FAILED: (
        "`check` failed: a failing finding (any MUST; any SHOULD with --strict), a stale "
        "baseline, or nothing could be checked; `load` saw a failed turn"
    ),
    ExitCode.USAGE: "invalid arguments or unreadable input (unknown protocol, bad header, …)",
    ExitCode.UNREACHABLE: "server unreachable (connection refused, DNS failure, TLS error)",
    ExitCode.UPGRADE_REFUSED: "the WebSocket upgrade was refused (no 101 Switching Protocols)",
    ExitCode.HTTP_STATUS: "the server answered with an HTTP error status",
    ExitCode.CONTENT_TYPE: "wrong content type (e.g. a JSON error where a stream was expected)",
    ExitCode.PROTOCOL_ERROR: "the stream carried the protocol's own error event",
    ExitCode.TIMEOUT: "--timeout ran out before the stream ended",
    ExitCode.CONNECTION_LOST: "the connection dropped, or the stream ended before its terminator",
    ExitCode.INTERNAL: "internal error in streamctl (rerun with --debug and report it)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


class StreamctlError(Exception):
    """An error streamctl reports as one line on stderr, exiting with :attr:`exit_code`."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL


class UsageError(StreamctlError):
    """Invalid arguments or an input file that cannot be used."""

    exit_code = ExitCode.USAGE


class CheckFailed(StreamctlError):
    """``check`` found at least one failing finding."""

    exit_code = ExitCode.CHECK_FAILED


class LoadFailed(StreamctlError):
    """``load`` saw turns fail (or sampled conversations break the protocol's rules)."""

    exit_code = ExitCode.CHECK_FAILED


class TransportError(StreamctlError):
    """The exchange could not happen, or broke before its end."""


class Unreachable(TransportError):
    """No connection to the server could be made."""

    exit_code = ExitCode.UNREACHABLE


class ConnectionLost(TransportError):
    """The connection dropped while the stream was flowing, or the server ended the stream
    before the protocol's terminator."""

    exit_code = ExitCode.CONNECTION_LOST


class StreamTimeout(TransportError):
    """The time bound ran out before the stream ended."""

    exit_code = ExitCode.TIMEOUT


class RefusedError(StreamctlError):
    """The server answered, but not with the stream that was asked for."""


class UpgradeRefused(RefusedError):
    """The server did not accept the WebSocket upgrade."""

    exit_code = ExitCode.UPGRADE_REFUSED


class HttpStatusError(RefusedError):
    """The server answered with an HTTP error status."""

    exit_code = ExitCode.HTTP_STATUS


class WrongContentType(RefusedError):
    """The response body is not the stream that was asked for."""

    exit_code = ExitCode.CONTENT_TYPE


class ProtocolErrorEvent(StreamctlError):
    """The server reported an error in the protocol's own error event."""

    exit_code = ExitCode.PROTOCOL_ERROR
