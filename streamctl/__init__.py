"""streamctl: send, record, inspect and conformance-check chat-streaming protocols.

The public API re-exports the protocol core. It is loaded on first use (PEP 562), so
``import streamctl`` (and with it ``streamctl --help``) costs almost nothing::

    import streamctl

    transcript = streamctl.load(open("reply.jsonl").read())
    findings = streamctl.check(transcript)
    if streamctl.failed(findings):
        ...
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamctl.core.capture import CaptureError, read_capture
    from streamctl.core.check import check, failed, unjudged
    from streamctl.core.protocols import REGISTRY, UnknownProtocolError, get, names
    from streamctl.core.protocols.exchange import ClientOptions, Update
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.core.spec import Finding, Level, Rule
    from streamctl.core.sse import SSEDecoder, SSEEvent, decode
    from streamctl.core.transcript import Transcript, TranscriptError, dump, load
    from streamctl.errors import ExitCode, StreamctlError

    Protocol = ChatProtocol  # deprecated alias, see _DEPRECATED

__version__ = "0.1.0"

_EXPORTS = {
    "CaptureError": "streamctl.core.capture",
    "read_capture": "streamctl.core.capture",
    "unjudged": "streamctl.core.check",
    "check": "streamctl.core.check",
    "failed": "streamctl.core.check",
    "REGISTRY": "streamctl.core.protocols",
    "UnknownProtocolError": "streamctl.core.protocols",
    "get": "streamctl.core.protocols",
    "names": "streamctl.core.protocols",
    "ClientOptions": "streamctl.core.protocols.exchange",
    "ChatProtocol": "streamctl.core.protocols.protocol",
    "Update": "streamctl.core.protocols.exchange",
    "Finding": "streamctl.core.spec",
    "Level": "streamctl.core.spec",
    "Rule": "streamctl.core.spec",
    "SSEDecoder": "streamctl.core.sse",
    "SSEEvent": "streamctl.core.sse",
    "decode": "streamctl.core.sse",
    "Transcript": "streamctl.core.transcript",
    "TranscriptError": "streamctl.core.transcript",
    "dump": "streamctl.core.transcript",
    "load": "streamctl.core.transcript",
    "ExitCode": "streamctl.errors",
    "StreamctlError": "streamctl.errors",
}

__all__ = [
    "REGISTRY",
    "CaptureError",
    "ChatProtocol",
    "ClientOptions",
    "ExitCode",
    "Finding",
    "Level",
    "Rule",
    "SSEDecoder",
    "SSEEvent",
    "StreamctlError",
    "Transcript",
    "TranscriptError",
    "UnknownProtocolError",
    "Update",
    "__version__",
    "check",
    "decode",
    "dump",
    "failed",
    "get",
    "load",
    "names",
    "read_capture",
    "unjudged",
]


#: Old public names, still importable with a DeprecationWarning (not in ``__all__``).
#: ``Protocol`` shadowed ``typing.Protocol`` in every module that used both.
_DEPRECATED = {"Protocol": "ChatProtocol"}


def __getattr__(name: str) -> Any:
    new = _DEPRECATED.get(name)
    if new is not None:
        warnings.warn(
            f"streamctl.{name} is deprecated; use streamctl.{new}", DeprecationWarning, stacklevel=2
        )
        return __getattr__(new)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
