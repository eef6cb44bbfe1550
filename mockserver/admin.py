"""The admin API under the reserved prefix ``/_streamctl``: for tests and for people.

``GET health`` · ``GET faults`` · ``GET|POST scenarios`` · ``POST reload`` · ``GET|POST queue`` ·
``GET journal`` · ``GET transcripts`` · ``POST recording`` · ``POST reset`` · ``GET streams``
(held ones released with ``POST streams/{id}/release`` or cut). Errors use the
``{"detail": …}`` shape of the rest of the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from quart import Blueprint, Response, jsonify, request

from mockserver.startup import ADMIN_PREFIX
from mockserver.state import ServerState
from mockserver.streams import OpenStream
from streamctl.core.protocols import REGISTRY, names
from streamctl.core.transcript import dump
from streamctl.engine.fault_parsing import table as fault_table
from streamctl.engine.hold import Gate
from streamctl.engine.scenarios import ScenarioError, UnknownScenarioError, parse_scenario

__all__ = ["PREFIX", "admin_blueprint"]

PREFIX = ADMIN_PREFIX
#: What ``GET /_streamctl`` lists: every admin endpoint and what it is for (docs/scenarios.md).
INDEX = (
    ("GET", "/health", "status, protocols, scenario count, open streams, uptime"),
    ("GET", "/faults", "every fault the server can inject"),
    ("GET", "/scenarios", "the scenarios (?protocol= only those that apply)"),
    ("POST", "/scenarios", "add a scenario (?name=, ?protocol= and ?count= also queue it)"),
    ("POST", "/reload", "reload the scenario files"),
    ("GET", "/queue", "the scenarios queued for the next requests"),
    ("POST", "/queue", 'queue one: {"protocol", "scenario", "count"}'),
    ("GET", "/journal", "what every client sent (?protocol=… and other fields filter)"),
    ("GET", "/transcripts", "what each client was sent, while recording"),
    ("POST", "/recording", 'record transcripts: {"on": true} or {"on": false}'),
    ("POST", "/reset", "forget chats, queues, the journal and added scenarios; release streams"),
    ("GET", "/streams", "open streams (?held=true, ?protocol=, ?name=; ?since=V&wait=S waits)"),
    ("POST", "/streams/release", "release every held stream (?free=true: for good)"),
    ("POST", "/streams/{id}/release", "release a held stream (?steps=N: N writes, then hold)"),
    ("POST", "/streams/{id}/cut", "drop a held stream now (SSE: no terminator; WS: 1011)"),
    ("POST", "/check", "check a transcript (JSON Lines), as `streamctl check` does"),
    ("GET", "/token", "a development JWT for ws-events (?user=)"),
)


class BadBody(Exception):
    """The request body is not UTF-8 JSON the admin API can read (answered with a 400)."""


def _error(status: int, detail: str, **more: Any) -> tuple[Response, int]:
    return jsonify({"detail": detail, **more}), status


async def _text() -> str:
    data = await request.get_data(as_text=False)
    raw = data if isinstance(data, bytes) else data.encode()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 text (byte {exc.start})") from None


async def _json() -> Any:
    """The body as JSON; None when it is empty (the route then says what it wants)."""
    text = await _text()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadBody("the body's JSON is nested too deeply") from None
    except ValueError as exc:
        raise BadBody(f"the body is not JSON: {exc}") from None


def admin_blueprint(server: ServerState) -> Blueprint:
    """The admin routes bound to ``server``."""
    admin = Blueprint("streamctl_admin", __name__, url_prefix=PREFIX)

    @admin.get("", strict_slashes=False)
    async def index() -> Response:
        endpoints = [{"method": m, "path": PREFIX + p, "description": d} for m, p, d in INDEX]
        return jsonify({"admin": endpoints, "playground": "/", "docs": "docs/scenarios.md"})

    @admin.errorhandler(BadBody)
    async def bad_body(exc: BadBody) -> tuple[Response, int]:
        return _error(400, str(exc))

    _state_routes(admin, server)
    _scenario_routes(admin, server)
    _queue_routes(admin, server)
    _record_routes(admin, server)
    _stream_routes(admin, server)
    return admin


def _state_routes(admin: Blueprint, server: ServerState) -> None:
    """What the server is: its health and the faults it can inject."""

    @admin.get("/health")
    async def health() -> Response:
        return jsonify(
            {
                "status": "ok",
                "protocols": names(),
                "scenarios": len(server.scenarios),
                "active": server.active,
                "uptime_s": round(server.config.wall_clock() - server.started, 3),
            }
        )

    @admin.get("/faults")
    async def faults() -> Response:
        # Every fault the server can inject (docs/faults.md is tested against this table).
        return jsonify({"faults": fault_table()})


def _scenario_routes(admin: Blueprint, server: ServerState) -> None:
    """What the server plays: the scenarios, listed or added."""

    @admin.get("/scenarios")
    async def scenarios() -> Response:
        protocol = request.args.get("protocol")
        listed = [
            s.summary()
            for s in server.scenarios.scenarios
            if protocol is None or s.applies_to(protocol)
        ]
        return jsonify({"scenarios": listed, "sources": [str(p) for p in server.sources]})

    @admin.post("/scenarios")
    async def add_scenario() -> Response | tuple[Response, int]:
        # A scripted scenario (a JSON object) or a recording (transcript JSON Lines), served
        # until reset; ?name= names it, ?protocol= (+ ?count=) also queues it.
        text = await _text()
        try:
            scenario = parse_scenario(text, "<admin>", request.args.get("name"))
        except ScenarioError as exc:
            return _error(422, str(exc))
        except RecursionError:
            raise BadBody("the body's JSON is nested too deeply") from None
        server.add(scenario)
        protocol = request.args.get("protocol")
        if protocol is not None:
            count = request.args.get("count", "1")
            problem = _queue_problem(
                {"protocol": protocol, "scenario": scenario.name, "count": _int(count)}, server
            )
            if problem is not None:
                return problem
            server.queues.add(protocol, scenario.name, _int(count))
        return jsonify(scenario.summary()), 201


def _queue_routes(admin: Blueprint, server: ServerState) -> None:
    """Reloading the scenario files, and the queue of what the next requests get."""

    @admin.post("/reload")
    async def reload() -> Response | tuple[Response, int]:
        try:
            loaded = server.reload()
        except ScenarioError as exc:
            return _error(422, str(exc))
        return jsonify({"status": "reloaded", "scenarios": len(loaded)})

    @admin.get("/queue")
    async def queued() -> Response:
        return jsonify({"queues": server.queues.snapshot()})

    @admin.post("/queue")
    async def queue() -> Response | tuple[Response, int]:
        body = await _json()
        problem = _queue_problem(body, server)
        if problem is not None:
            return problem
        server.queues.add(body["protocol"], body["scenario"], body.get("count", 1))
        return jsonify({"queues": server.queues.snapshot()})


def _record_routes(admin: Blueprint, server: ServerState) -> None:
    """What the server saw and sent (journal, transcripts), and forgetting it all (reset)."""

    @admin.get("/transcripts")
    async def transcripts() -> Response:
        protocol = request.args.get("protocol")
        kept = [dump(t) for t in server.transcripts if protocol in (None, t.protocol)]
        return jsonify({"recording": server.recording, "transcripts": kept})

    @admin.post("/recording")
    async def recording() -> Response | tuple[Response, int]:
        body = await _json()
        if not isinstance(body, dict) or not isinstance(body.get("on"), bool):
            return _error(422, 'send {"on": true} or {"on": false}')
        server.recording = body["on"]
        return jsonify({"recording": server.recording})

    @admin.get("/journal")
    async def journal() -> Response:
        return jsonify({"entries": server.journal.entries(dict(request.args.items()))})

    @admin.post("/reset")
    async def reset() -> Response:
        server.reset()
        return jsonify({"status": "reset"})


#: The longest ``GET streams?wait=`` waits (s).
MAX_WAIT_S = 60.0


def _stream_routes(admin: Blueprint, server: ServerState) -> None:
    """Open streams: list them, wait for a change, release or cut a held one."""
    streams = server.streams

    @admin.get("/streams")
    async def open_streams() -> Response | tuple[Response, int]:
        args = request.args
        held = {"true": True, "false": False, None: None}.get(args.get("held"), "bad")
        wait, since = _seconds(args.get("wait", "0")), args.get("since")
        if held == "bad" or wait is None or (since is not None and not since.isdigit()):
            return _error(422, "held is true or false, wait seconds, since a version")
        if since is not None:
            await streams.changed(int(since), min(wait, MAX_WAIT_S))
        listed = [
            s
            for s in streams.listed(held if isinstance(held, bool) else None)
            if args.get("protocol") in (None, s["protocol"])
            and args.get("name") in (None, s["held"])
        ]
        return jsonify({"version": streams.version, "streams": listed})

    @admin.post("/streams/release")
    async def release_all() -> Response:
        free = request.args.get("free") == "true"
        return jsonify({"released": streams.release_all(free=free)})

    @admin.post("/streams/<stream_id>/release")
    async def release(stream_id: str) -> Response | tuple[Response, int]:
        raw = request.args.get("steps")
        if raw is not None and (not raw.isdigit() or int(raw) < 1):
            return _error(422, "steps must be a whole number, 1 or more")
        steps = None if raw is None else int(raw)
        return _held_do(streams.get(stream_id), stream_id, lambda g: g.release(steps))

    @admin.post("/streams/<stream_id>/cut")
    async def cut(stream_id: str) -> Response | tuple[Response, int]:
        return _held_do(streams.get(stream_id), stream_id, lambda g: g.cut())


def _held_do(
    stream: OpenStream | None, stream_id: str, act: Callable[[Gate], bool]
) -> Response | tuple[Response, int]:
    """Do ``act`` to a held stream's gate: 404 if there is no such stream, 409 if it is not
    held."""
    if stream is None:
        return _error(404, f"no open stream {stream_id!r}")
    summary = stream.summary()
    if stream.gate is None or not act(stream.gate):
        return _error(409, f"stream {stream_id!r} is not held", stream=summary)
    return jsonify(summary)


def _seconds(text: str) -> float | None:
    """A query parameter as a number of seconds (None if it is not one)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _queue_problem(body: Any, server: ServerState) -> tuple[Response, int] | None:
    """Why a queue request cannot be honoured, as the response to send; None if it can."""
    if not isinstance(body, dict):
        return _error(422, 'send a JSON object: {"protocol", "scenario", "count"}')
    protocol, scenario, count = body.get("protocol"), body.get("scenario"), body.get("count", 1)
    if not isinstance(protocol, str) or not isinstance(scenario, str):
        return _error(422, "'protocol' and 'scenario' must be strings")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return _error(422, "'count' must be a whole number, 1 or more")
    if protocol not in REGISTRY:
        return _error(404, f"unknown protocol {protocol!r}", available=names())
    try:
        server.scenarios.get(scenario, protocol)
    except UnknownScenarioError as exc:
        return _error(404, str(exc), available=exc.available)
    return None


def _int(text: str) -> int:
    """A query parameter as a count (0 when it is not a whole number: refused as such)."""
    return int(text) if text.isdigit() else 0
