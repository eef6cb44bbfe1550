"""Who may drive the mock: the checks every request passes before any route sees it.

The mock listens on a developer's machine, and every web page that developer opens can send
requests to it. Browsers let any page *send* a simple request (a form, ``text/plain``) to any
origin and stop it only from *reading* the answer, and DNS rebinding lets a page on a hostile
name reach ``127.0.0.1`` as its own origin. So, before routing:

* ``Host`` must name this server: ``localhost``, ``127.0.0.1``, ``[::1]``, the ``--host`` it was
  started with (any IP address when that is a wildcard) or an ``--allow-host`` name — a
  rebinding page can only send its own name;
* a state-changing request (any method but GET, HEAD, OPTIONS) and every WebSocket upgrade that
  carries an ``Origin`` must come from the server's own origin or one the CORS policy allows;
* a state-changing admin request must say its body is JSON (a form or ``text/plain`` never is,
  and a page cannot send another type to a foreign origin without a preflight, which the CORS
  policy answers);
* with an admin token set, the admin API (all but what the playground page reads) wants
  ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from mockserver.asgi import Receive, Scope, Send
from mockserver.config import ServerConfig
from mockserver.cors import Cors
from streamctl.core.protocols.exchange import HttpResponse

__all__ = ["ADMIN_PREFIX", "Guard", "refuse_websocket"]

ADMIN_PREFIX = "/_streamctl/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
#: Body types a state-changing admin request may carry (scenarios take JSON Lines too).
JSON_TYPES = frozenset({"application/json", "application/x-ndjson", "application/jsonl"})
#: What the playground page reads and posts: open even with an admin token (nothing secret,
#: nothing changed). ``check`` only answers findings for the transcript it is sent.
PLAYGROUND = frozenset(
    {("GET", "health"), ("GET", "faults"), ("GET", "scenarios"), ("GET", "token")}
    | {("POST", "check")}
)


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    host: str | None
    origin: str | None
    content_type: str | None
    authorization: str | None

    @classmethod
    def of(cls, scope: Scope) -> _Request:
        wanted = {b"host": None, b"origin": None, b"content-type": None, b"authorization": None}
        found: dict[bytes, str | None] = dict(wanted)
        for name, value in scope["headers"]:
            if (key := name.lower()) in wanted and found[key] is None:
                found[key] = value.decode("latin-1")
        method = "WS" if scope["type"] == "websocket" else str(scope["method"])
        return cls(
            method,
            str(scope["path"]),
            found[b"host"],
            found[b"origin"],
            found[b"content-type"],
            found[b"authorization"],
        )


def host_name(host: str) -> str:
    """The name in a ``Host`` value, without the port or IPv6 brackets, lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, colon, port = host.rpartition(":")
    return name.rstrip(".") if colon and port.isdigit() else host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """The checks of the module docstring for one server's configuration."""

    def __init__(self, config: ServerConfig, cors: Cors) -> None:
        self.cors = cors
        self.token = config.admin_token
        self.any_host = "*" in config.allowed_hosts
        self.wildcard = config.host in WILDCARDS
        extra = {host_name(h) for h in (config.host, *config.allowed_hosts) if h != "*"}
        self.hosts = LOOPBACK | extra

    def refusal(self, scope: Scope) -> HttpResponse | None:
        """The response refusing this request, or None when it may go on."""
        request = _Request.of(scope)
        if request.host is not None and not self.host_allowed(request.host):
            shown = request.host[:100]
            return _refused(
                400,
                f"Host {shown!r} is not a name this server answers to (a page on another "
                f"name reaching it through DNS rebinding?); start it with --allow-host NAME "
                f"to allow a name",
            )
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not self.origin_allowed(request):
            return _refused(403, f"Origin {request.origin!r} may not call this server")
        admin = request.path.startswith(ADMIN_PREFIX)
        if admin and request.method != "OPTIONS" and not self.admin_allowed(request):
            response = _refused(401, "the admin API wants Authorization: Bearer <admin token>")
            return HttpResponse(401, response.body, (*response.headers, _CHALLENGE))
        if admin and unsafe and not _playground(request) and not _is_json(request):
            return _refused(
                415,
                "send the admin API JSON (Content-Type: application/json): forms and text "
                "are refused, because any web page could send those",
            )
        return None

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return self.any_host or name in self.hosts or (self.wildcard and _is_ip(name))

    def origin_allowed(self, request: _Request) -> bool:
        origin = request.origin
        if origin is None:  # not a browser (browsers send Origin with these requests)
            return True
        own = request.host is not None and urlsplit(origin).netloc == request.host.lower()
        return own or self.cors.allows(origin)

    def admin_allowed(self, request: _Request) -> bool:
        if not self.token:
            return True
        if _playground(request):
            return True
        scheme, _, given = (request.authorization or "").partition(" ")
        expected = self.token.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), expected)


_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="streamctl admin"')


def _playground(request: _Request) -> bool:
    name = request.path.removeprefix(ADMIN_PREFIX)
    return (request.method, name) in PLAYGROUND or name.startswith("static/")


def _is_json(request: _Request) -> bool:
    kind = (request.content_type or "").partition(";")[0].strip().lower()
    return kind in JSON_TYPES or kind.endswith("+json")


def _refused(status: int, detail: str) -> HttpResponse:
    return HttpResponse.json(status, {"detail": detail})


async def refuse_websocket(
    scope: Scope, receive: Receive, send: Send, response: HttpResponse
) -> None:
    """Refuse an upgrade with ``response`` (a 1008 close where the server cannot send one)."""
    if (await receive())["type"] != "websocket.connect":
        return
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": "refused"})
        return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    start = {"type": "websocket.http.response.start", "status": response.status}
    await send({**start, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": response.body})
