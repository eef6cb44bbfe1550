"""Transcripts from files: recordings (``.jsonl``) and captures (``.sse``, ``.ndjson``, ``.har``).

The conversion is :mod:`streamctl.core.capture`; this module reads the files and names what it
found. A raw body names its protocol in its file name (``reply.goose.sse``) when nobody else
does; a HAR file's exchanges are named ``<stem>-1``, ``<stem>-2``… when there are several.
"""

from __future__ import annotations

from pathlib import Path

from streamctl.core.capture import CaptureError, Kind, read_capture
from streamctl.core.protocols import REGISTRY
from streamctl.core.transcript import Transcript

__all__ = [
    "CAPTURE_SUFFIXES",
    "TRANSCRIPT_SUFFIXES",
    "named",
    "protocol_in_name",
    "read_bytes",
    "read_file",
]

CAPTURE_SUFFIXES = (".sse", ".ndjson", ".har")
TRANSCRIPT_SUFFIXES = (".jsonl", *CAPTURE_SUFFIXES)


def protocol_in_name(path: Path) -> str | None:
    """The protocol a raw capture's file name carries (``reply.goose.sse`` → ``goose``)."""
    if path.suffix not in (".sse", ".ndjson"):
        return None
    protocol = path.stem.rpartition(".")[2]
    return protocol if "." in path.stem and protocol in REGISTRY else None


def _stem(path: Path) -> str:
    return path.stem.rpartition(".")[0] if protocol_in_name(path) else path.stem


def read_bytes(
    data: bytes, source: str, protocol: str | None = None, kind: Kind | None = None
) -> list[Transcript]:
    """The transcripts in ``data`` (of ``kind``, else detected); errors name ``source``."""
    try:
        return read_capture(data, protocol, kind=kind)
    except CaptureError as exc:
        raise CaptureError(f"{source}: {exc}") from exc


def read_file(path: Path, protocol: str | None = None) -> list[Transcript]:
    """The transcripts in the file at ``path``: a recording (``.jsonl``) or a capture."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read the file ({exc.strerror})") from exc
    kind: Kind | None = "transcript" if path.suffix == ".jsonl" else None
    return read_bytes(data, str(path), protocol_in_name(path) or protocol, kind)


def named(path: Path, transcripts: list[Transcript]) -> list[tuple[str, Transcript]]:
    """Each transcript with a name from the file's: its stem, or ``stem-N`` for several."""
    stem = _stem(path)
    if len(transcripts) == 1:
        return [(stem, transcripts[0])]
    return [(f"{stem}-{i}", t) for i, t in enumerate(transcripts, start=1)]
