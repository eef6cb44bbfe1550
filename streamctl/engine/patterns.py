"""Scenario ``match`` patterns, searched in every user message on a linear-time engine (RE2).

A scenario's ``match`` runs on text clients send. On Python's backtracking ``re`` a pattern such
as ``^(a+)+$`` takes seconds on a 25-character message and twice as long per extra character,
while the event loop, and so every stream, waits. The ways out weighed:

* a time-bounded match: ``re`` cannot be interrupted (it holds the GIL: no thread or timer can
  stop it); only another process could, at a process hop per message;
* patterns only from files: a careless pattern in a file stalls the server just the same, and
  scenarios added through the admin API (what the pytest plugin does) would lose ``match``;
* RE2 (the ``google-re2`` wheels): time linear in the message for every pattern, nothing to
  tune. Its syntax is Python's without backreferences and lookaround, which choosing a reply
  does not need; such a pattern is refused when the scenario loads, saying why.

RE2 it is. ``\\d``, ``\\w`` and ``\\b`` are ASCII-only in RE2 (Unicode in ``re``); ``\\pL``
and ``[[:alpha:]]`` say more where that matters.
"""

from __future__ import annotations

from typing import Protocol

import re2  # type: ignore[import-untyped]

__all__ = ["Pattern", "PatternError", "compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr


class PatternError(ValueError):
    """A ``match`` pattern RE2 cannot compile (the message says why)."""


class Pattern(Protocol):
    """What the server uses of a compiled pattern."""

    @property
    def pattern(self) -> str: ...

    def search(self, text: str) -> object | None: ...


class _Re2Pattern:
    """A compiled RE2 pattern that takes any ``str``, lone surrogates included."""

    __slots__ = ("_regexp", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        try:
            self._regexp = re2.compile(pattern, _OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            shown = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
            raise PatternError(str(shown)) from None
        except UnicodeEncodeError:
            raise PatternError("the pattern is not valid Unicode text") from None

    def search(self, text: str) -> object | None:
        try:
            found: object | None = self._regexp.search(text)
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8
            found = self._regexp.search(text.encode("utf-8", "replace").decode("utf-8"))
        return found


def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled for RE2. Raises :class:`PatternError`."""
    return _Re2Pattern(pattern)
