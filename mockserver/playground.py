"""The browser playground: ``GET /`` for people, and the two helpers its page needs.

* ``GET /`` answers the page (``mockserver/static/index.html``) to a client whose ``Accept``
  names ``text/html`` (a browser), and the JSON index to everyone else (curl, tests, goose
  clients probing the server), with ``Vary: Accept``.
* ``GET /_streamctl/static/<file>``: the page's own CSS and JavaScript; nothing comes from
  elsewhere, and there is no build step.
* ``POST /_streamctl/check``: a transcript (JSON Lines) in, the checker's findings out, so the
  page shows what ``streamctl check`` would say and never carries its own copy of the rules.
* ``GET /_streamctl/token?user=NAME``: a development JWT for ws-events, signed with the server's
  secret (what ``streamctl token`` prints).
"""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, abort, jsonify, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.security import safe_join

from mockserver.admin import PREFIX
from mockserver.routes import index
from mockserver.startup import PLAYGROUND_PATH
from mockserver.state import ServerState
from streamctl.core.check import check, failed
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import REGISTRY
from streamctl.core.transcript import TranscriptError, load

__all__ = ["PLAYGROUND", "STATIC", "playground_blueprint", "wants_html"]

PLAYGROUND = PLAYGROUND_PATH

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
DEFAULT_USER = "dev-user"
MAX_USER = 100


def wants_html(accept: MIMEAccept) -> bool:
    """Whether ``Accept`` names ``text/html`` itself (not through ``*/*``), at least as
    strongly as JSON: a browser navigating, not an API client."""
    html = max((q for value, q in accept if value.lower() == "text/html"), default=0.0)
    return html > 0 and html >= accept.quality("application/json")


def static_file(name: str) -> Response:
    """One of the page's files (a few kilobytes each, read whole), or a 404."""
    found = safe_join(str(STATIC), name)
    path = None if found is None else Path(found)
    if path is None or path.suffix not in TYPES or not path.is_file():
        abort(404)
    response = Response(path.read_bytes(), content_type=TYPES[path.suffix])
    # A dev tool: always revalidate, so an upgraded server never runs a stale page.
    response.headers["Cache-Control"] = "no-cache"
    return response


def _error(status: int, detail: str) -> tuple[Response, int]:
    return jsonify({"detail": detail}), status


def playground_blueprint(server: ServerState) -> Blueprint:
    """The page, its assets, and the check and token helpers, bound to ``server``."""
    page = Blueprint("streamctl_playground", __name__)

    async def home() -> Response:
        html = wants_html(request.accept_mimetypes)
        response = static_file("index.html") if html else jsonify(index(server))
        response.vary.add("Accept")
        return response

    # With --as, "/" is the imitated server's own page; the playground keeps a path of its own.
    page.add_url_rule(PLAYGROUND, "playground", home)
    if server.config.serve_as is None:
        page.add_url_rule("/", "home", home)

    @page.get(f"{PREFIX}/static/<path:name>")
    async def static(name: str) -> Response:
        return static_file(name)

    page.add_url_rule(f"{PREFIX}/check", "check", _check_transcript, methods=["POST"])

    @page.get(f"{PREFIX}/token")
    async def token() -> Response | tuple[Response, int]:
        user = request.args.get("user", "").strip() or DEFAULT_USER
        if len(user) > MAX_USER:
            return _error(422, f"'user' is longer than {MAX_USER} characters")
        return jsonify({"token": mint_dev_token(server.config.jwt_secret, user)})

    return page


async def _check_transcript() -> Response | tuple[Response, int]:
    """The findings for the transcript in the request body (the page's "Check" button)."""
    body = await request.get_data(True, False, False)
    try:
        transcript = load(body.decode("utf-8"))
    except UnicodeDecodeError:
        return _error(422, "the transcript is not UTF-8 text")
    except TranscriptError as exc:
        return _error(422, f"not a transcript: {exc}")
    except RecursionError:
        return _error(400, "the transcript's JSON is nested too deeply")
    if transcript.protocol not in REGISTRY:
        known = ", ".join(REGISTRY)
        return _error(422, f"unknown protocol {transcript.protocol!r} (known: {known})")
    findings = check(transcript)
    return jsonify({"findings": [f.as_dict() for f in findings], "failed": failed(findings)})
