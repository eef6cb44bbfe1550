"""Terminal output: data on stdout, people's messages on stderr, server text made harmless.

Whatever a server sends may hold terminal control sequences (an ``ESC [ 2 J`` clears a screen,
a ``CR`` overwrites a line, bidi overrides reorder what is shown). On a terminal they are shown
escaped (``\\x1b``), never obeyed; when stdout is a pipe or a file the text is written as it
came, so nothing downstream loses a byte. JSON lines escape them always (still valid JSON).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["Console", "escape", "json_line"]

# C0 controls except TAB and LF, DEL, C1 controls, and the bidi embedding/override/isolate
# characters behind "Trojan Source" (CVE-2021-42574).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same set less what json.dumps already escapes (C0 controls).
_JSON_CONTROL = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\x1b": "\\x1b"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control character shown as an escape (TAB and LF kept)."""
    return _CONTROL.sub(_visible, text)


def json_line(obj: Any) -> str:
    """One compact JSON line (no newline); non-ASCII text stays readable, controls escaped."""
    from streamctl.core.jsontext import dumps_exact  # noqa: PLC0415 (not needed for --help)

    text = dumps_exact(obj)
    return _JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class Console:
    """The streams a command writes to, and whether each is a terminal.

    Injected so tests can capture output and pretend to be a terminal.
    """

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdout_tty: bool | None = None
    stderr_tty: bool | None = None
    _midline: bool = False

    def __post_init__(self) -> None:
        if self.stdout_tty is None:
            self.stdout_tty = _isatty(self.stdout)
        if self.stderr_tty is None:
            self.stderr_tty = _isatty(self.stderr)

    def text(self, text: str) -> None:
        """Server text on stdout, as it streams (escaped on a terminal)."""
        if not text:
            return
        self.stdout.write(escape(text) if self.stdout_tty else text)
        self.stdout.flush()
        self._midline = not text.endswith("\n")

    def raw(self, data: bytes) -> None:
        """Wire bytes on stdout: exactly as received into a pipe, escaped on a terminal."""
        if self.stdout_tty:
            self.text(data.decode("utf-8", "replace"))
            return
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            self.text(data.decode("utf-8", "replace"))
            return
        self.stdout.flush()
        buffer.write(data)
        buffer.flush()

    def line(self, text: str) -> None:
        """One line of data on stdout (JSON lines, reports)."""
        self.end_text()
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def end_text(self) -> None:
        """End a line of streamed text, if one is open."""
        if self._midline:
            self.stdout.write("\n")
            self.stdout.flush()
            self._midline = False

    def note(self, text: str) -> None:
        """A message for a person, on stderr (server-sourced parts escaped on a terminal)."""
        if self._midline and self.stdout_tty and self.stderr_tty:
            self.end_text()
        self.stderr.write((escape(text) if self.stderr_tty else text) + "\n")
        self.stderr.flush()

    def prompt(self, text: str) -> None:
        """A prompt on stderr, without a newline."""
        self.end_text()
        self.stderr.write(text)
        self.stderr.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
