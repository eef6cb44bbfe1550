"""Quart routes: each protocol's non-streaming endpoints, the index, and JSON errors."""

from __future__ import annotations

import logging
import re
from typing import Any

from quart import Quart, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from mockserver.admin import PREFIX
from mockserver.asgi import header_map
from mockserver.state import ServerState
from streamctl.core.protocols.exchange import HttpRequest, HttpResponse, Route
from streamctl.core.protocols.protocol import ChatProtocol

__all__ = ["index", "register_routes"]

log = logging.getLogger("mockserver")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def quart_rule(path: str) -> str:
    """``/sessions/{session_id}`` -> ``/sessions/<session_id>``."""
    return _PLACEHOLDER.sub(r"<\1>", path)


def index(server: ServerState, base: str = "") -> dict[str, Any]:
    """What ``GET /`` answers: every protocol and its endpoints, and the admin API."""
    return {
        "name": "streamctl mock server",
        "protocols": [
            {
                "name": proto.name,
                "title": proto.title,
                "transport": proto.transport,
                "imitates": proto.imitates,
                "endpoints": [
                    {
                        "method": e.method,
                        "path": e.path,
                        "summary": e.summary,
                        "stream": e.stream,
                    }
                    for e in proto.endpoints
                ],
            }
            for proto in server.protocols
        ],
        "admin": f"{base}{PREFIX}",
    }


def register_routes(app: Quart, server: ServerState) -> None:
    """Serve every protocol's ``routes()``, the index, and JSON answers for errors."""
    for proto in server.protocols:
        pages = proto.pages() if server.config.serve_as == proto.name else ()
        for route in (*proto.routes(), *pages):
            endpoint = f"{proto.name}:{route.endpoint.method}:{route.endpoint.path}"
            app.add_url_rule(
                quart_rule(route.endpoint.path),
                endpoint=endpoint,
                view_func=_view(server, proto, route),
                methods=[route.endpoint.method],
            )

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        # FastAPI's shape, as the real backends of most of these protocols answer.
        response = jsonify({"detail": error.name})
        response.status_code = error.code or 500
        return response

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error", exc_info=error)
        return jsonify({"detail": "Internal Server Error"}), 500


def _view(server: ServerState, proto: ChatProtocol, route: Route) -> Any:
    async def view(**path_params: str) -> Response:
        body = await request.get_data(True, False, False)
        headers = [(k.lower(), v) for k, v in request.headers.items()]
        entry = server.journal.open(
            proto.name,
            request.method,
            request.path,
            query=request.query_string.decode("latin-1"),
            headers=headers,
        )
        entry.set_body(body)
        parsed = HttpRequest(
            method=request.method,
            path=request.path,
            query=dict(request.args.items()),
            headers=header_map(headers),
            body=body,
            path_params=path_params,
        )
        try:
            answer: HttpResponse = route.handle(parsed, server.state_of(proto.name))
        except Exception:
            entry.status, entry.outcome = 500, "error"
            raise
        else:
            entry.status, entry.outcome = answer.status, "answered"
        finally:
            server.journal.seal(entry)
        return Response(answer.body, status=answer.status, headers=dict(answer.headers))

    return view
