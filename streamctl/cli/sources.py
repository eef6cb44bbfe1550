"""Where commands read transcripts from: a file, a directory of them, or ``-`` (stdin).

Each of them is a recording (``.jsonl``) or a capture: a raw SSE or NDJSON body, or a HAR file
(see ``docs/recording.md``). Errors become :class:`~streamctl.errors.UsageError` messages.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamctl.errors import UsageError

if TYPE_CHECKING:
    from streamctl.cli.output import Console
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.core.transcript import Transcript

__all__ = ["note_unjudged", "read_source"]


def _files(target: Path) -> list[Path]:
    from streamctl.engine.captures import TRANSCRIPT_SUFFIXES  # noqa: PLC0415

    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.suffix in TRANSCRIPT_SUFFIXES and p.is_file()
        )
        if not files:
            kinds = ", ".join(f"*{suffix}" for suffix in TRANSCRIPT_SUFFIXES)
            raise UsageError(f"no transcripts or captures ({kinds}) in {target}")
        return files
    if target.is_file():
        return [target]
    raise UsageError(f"{str(target)!r} is neither a URL nor a transcript file or directory")


def _name(source: str, index: int, count: int) -> str:
    return source if count == 1 else f"{source}[{index}]"


def read_source(
    target: str, protocol: str | None, console: Console | None = None
) -> list[tuple[str, Transcript]]:
    """``(name, transcript)`` for everything at ``target`` (``-``: standard input).

    With a ``console``, a file of a directory that cannot be read is reported there and the
    others are still read; otherwise (and for a single file) it is a usage error.
    """
    from streamctl.core.capture import CaptureError  # noqa: PLC0415
    from streamctl.engine.captures import read_bytes, read_file  # noqa: PLC0415

    try:
        if target == "-":
            found = read_bytes(sys.stdin.buffer.read(), "stdin", protocol)
            return [(_name("-", i, len(found)), t) for i, t in enumerate(found, 1)]
        files = _files(Path(target))
    except CaptureError as exc:
        raise UsageError(f"cannot read {exc}") from exc
    named: list[tuple[str, Transcript]] = []
    for path in files:
        try:
            found = read_file(path, None if path.suffix == ".jsonl" else protocol)
        except CaptureError as exc:
            if console is None or len(files) == 1:
                raise UsageError(f"cannot read {exc}") from exc
            console.note(f"streamctl: cannot read {exc} (the others are checked)")
            continue
        named += [(_name(str(path), i, len(found)), t) for i, t in enumerate(found, 1)]
    return named


def note_unjudged(console: Console, name: str, transcript: Transcript, proto: ChatProtocol) -> None:
    """Say which rules a capture could not be judged on, and which facts it lacks."""
    from streamctl.core.check import unjudged  # noqa: PLC0415

    rules = unjudged(transcript, proto)
    if rules:
        lacks = ", ".join(transcript.header.unknown)
        ids = ", ".join(rule.id for rule in rules)
        console.note(f"streamctl: {name}: not judged (the capture has no {lacks}): {ids}")
