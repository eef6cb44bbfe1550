"""What a person or a pipe sees while a stream flows: the views and the closing summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamctl.cli.output import Console, json_line
from streamctl.core.transcript import Frame, Request, Response
from streamctl.errors import ConnectionLost
from streamctl.net.base import Observer, Result, WireEvent

__all__ = ["JsonView", "RawView", "Stats", "Tee", "TextView", "WireView", "make_view"]


class TextView:
    """The assistant's text on stdout as it arrives; tool calls, errors and notes on stderr."""

    def __init__(self, console: Console, *, debug: bool = False) -> None:
        self.console = console
        self.debug = debug

    def on_head(self, request: Request, response: Response | None) -> None:
        if not self.debug:
            return
        self.console.note(f"> {request.method} {request.target}")
        for name, value in request.headers:
            self.console.note(f"> {name}: {value}")
        if response is not None:
            self.console.note(f"< {response.status}")
            for name, value in response.headers:
                self.console.note(f"< {name}: {value}")

    def on_frame(self, frame: Frame) -> None:
        if self.debug:
            arrow = "<" if frame.sender == "server" else ">"
            payload = frame.payload
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            self.console.note(f"{arrow} {frame.t:9.1f} ms {text!r}")

    def on_event(self, event: WireEvent) -> None:
        update = event.update
        self.console.text(update.text)
        if update.info:
            self.console.note(f"[{update.info}]")
        if update.error is not None:
            self.console.note(f"[server error: {update.error}]")


class WireView(TextView):
    """The wire only (heads and frames) on stderr, for ``check --debug``: stdout keeps the
    report."""

    def __init__(self, console: Console) -> None:
        super().__init__(console, debug=True)

    def on_event(self, event: WireEvent) -> None:
        pass


class JsonView:
    """Every server event as one JSON line with its time offset (ms)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_head(self, request: Request, response: Response | None) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        pass

    def on_event(self, event: WireEvent) -> None:
        update = event.update
        message = event.message
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        obj = {
            "t": round(event.t, 3),
            "text": update.text,
            "done": update.done,
            "error": update.error,
            "info": update.info,
            "sse": event.sse,
            "message": message,
        }
        self.console.line(json_line(obj))


class RawView:
    """The wire as it came: SSE bytes exactly, one line per WebSocket server message."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_head(self, request: Request, response: Response | None) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        if frame.sender != "server":
            return
        if isinstance(frame.payload, bytes):
            self.console.raw(frame.payload)
        else:
            self.console.text(frame.payload + "\n")

    def on_event(self, event: WireEvent) -> None:
        pass


@dataclass
class Stats:
    """Counts what streamed, for the one-line summary."""

    tokens: int = 0
    first: float | None = None
    last: float | None = None

    def on_head(self, request: Request, response: Response | None) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        pass

    def on_event(self, event: WireEvent) -> None:
        if not event.update.text:
            return
        self.tokens += 1
        if self.first is None:
            self.first = event.t
        self.last = event.t

    def summary(self, result: Result, total_ms: float) -> str:
        """Time to first token, tokens, tokens/s, total time and how the stream ended."""
        ttft = "-" if self.first is None else f"{self.first:.0f} ms"
        span = (total_ms - self.first) / 1000.0 if self.first is not None else 0.0
        rate = f"{self.tokens / span:.1f}" if span > 0 else "-"
        ended = ending(result)
        return (
            f"ttft {ttft} | {self.tokens} tokens | {rate} tokens/s | "
            f"total {total_ms:.0f} ms | ended: {ended}"
        )


def ending(result: Result) -> str:
    """How the stream ended, in words: ``complete`` only when the protocol's terminator came
    and no error event did (a transcript's ``complete`` means the recording saw the end)."""
    outcome, detail = result.outcome, result.detail
    if outcome == "complete" and result.errors:
        outcome, detail = "error event", f"the server reported: {result.errors[0]}"
    elif outcome == "complete" and not result.done and isinstance(result.error, ConnectionLost):
        outcome = "cut short"
    return f"{outcome} ({detail})" if detail else outcome


class Tee:
    """Passes everything to several observers, in order."""

    def __init__(self, *observers: Observer) -> None:
        self.observers: Sequence[Observer] = observers

    def on_head(self, request: Request, response: Response | None) -> None:
        for observer in self.observers:
            observer.on_head(request, response)

    def on_frame(self, frame: Frame) -> None:
        for observer in self.observers:
            observer.on_frame(frame)

    def on_event(self, event: WireEvent) -> None:
        for observer in self.observers:
            observer.on_event(event)


def make_view(
    console: Console, *, as_json: bool = False, raw: bool = False, debug: bool = False
) -> TextView | JsonView | RawView:
    """The view ``--json`` / ``--raw`` / the default ask for."""
    if as_json:
        return JsonView(console)
    if raw:
        return RawView(console)
    return TextView(console, debug=debug)
