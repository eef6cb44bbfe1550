"""What the recording proxy keeps of one exchange: its recorder and its transcript file.

Each record is written and flushed as it happens, as ``record`` writes them (an interrupted
exchange keeps what arrived). A file that cannot be created (the directory went away, the disk
is full) is noted once and the exchange still goes through, unrecorded.

(Creating the files in a worker thread was measured and not kept: with 200 streams opened at
once, the hand-offs to and from the thread cost the proxy more than the creations it moved off
the event loop, 140-173 µs of CPU per token against 113-157, and more late tokens.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from streamctl.core.protocols.protocol import ChatProtocol
from streamctl.core.transcript import Request, Transcript
from streamctl.engine.recorder import NullSink, Recorder

__all__ = ["Exchange", "TranscriptFile"]


class TranscriptFile:
    """A text file for a :class:`Recorder`; when it cannot be created, ``note`` says so once
    and the records are dropped."""

    def __init__(self, path: Path, note: Callable[[str], None]) -> None:
        self.path = path
        self._file: IO[str] | None = None
        try:
            self._file = path.open("w", encoding="utf-8")
        except OSError as exc:
            note(f"proxy: cannot write {path}: {exc}; the exchange is not recorded")

    def write(self, text: str, /) -> int:
        return self._file.write(text) if self._file is not None else len(text)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Exchange:
    """One recorded exchange: its recorder, its file, and what to do when it ends."""

    def __init__(
        self,
        proto: ChatProtocol,
        name: str,
        request: Request,
        *,
        out_dir: Path | None,
        check: bool,
        meta: dict[str, Any],
        note: Callable[[str], None],
        report: Callable[[str, Transcript, ChatProtocol], None],
    ) -> None:
        self.proto, self.name = proto, name
        self.file = TranscriptFile(out_dir / f"{name}.jsonl", note) if out_dir else None
        self._check, self._report = check, report
        sink: Any = self.file if self.file is not None else NullSink()
        self.recorder = Recorder(sink, proto.name, proto.transport, meta=meta, keep=check)
        self.recorder.start(request)

    def end(self, outcome: str, detail: str = "") -> None:
        self.recorder.end(outcome, detail)
        if self.file is not None:
            self.file.close()
        if self._check:
            self._report(self.name, self.recorder.transcript(), self.proto)
