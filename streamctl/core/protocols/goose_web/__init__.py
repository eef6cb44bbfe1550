"""``goose-web``: goose web's WebSocket ``/ws`` (the goose CLI's UI server; seed 000).

``goose web`` serves a page titled "Goose Chat" and a WebSocket ``/ws`` on the same port as
goosed would (3000). The ATLAS ``GooseClient`` of seed 000 takes this path whenever ``GET /``
is a page containing "Goose Chat": it sends ``{"type": "message", "content", "session_id",
"timestamp"}`` and reads ``response`` messages until ``complete``. The spec is in ``rules``,
the server side in ``server``, the client in ``client``, the cross-message rules in
``checking``; ``streamctl serve --as goose-web`` makes ``/`` the Goose Chat page (``page``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Endpoint, Route, Settings
from streamctl.core.protocols.goose_web import checking, page
from streamctl.core.protocols.goose_web.client import GooseWebClient
from streamctl.core.protocols.goose_web.rules import CLIENT_SCHEMAS, SPEC
from streamctl.core.protocols.goose_web.server import ROUTES, Session, State
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.server import ServerSession
from streamctl.core.spec import Finding, Msg, Shape, Spec
from streamctl.core.transcript import Transcript

__all__ = ["PATH", "PROTOCOL", "GooseWeb"]

PATH = "/ws"


class GooseWeb(WSProtocol):
    name: ClassVar[str] = "goose-web"
    title: ClassVar[str] = "goose web's WebSocket: message -> response… complete"
    seed: ClassVar[str] = "000"
    imitates: ClassVar[str] = "goose web (the goose CLI's UI server)"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint(
            "WS",
            PATH,
            "send {type: message, content, session_id, timestamp}; receive response… then complete",
            True,
        ),
        *(route.endpoint for route in ROUTES),
    )
    spec: ClassVar[Spec] = SPEC
    #: What shows a reply arrived (``check``'s no reply, no pass): its text, tools, the end.
    reply_types: ClassVar[frozenset[str]] = frozenset(
        {"response", "thinking", "tool_request", "tool_response", "complete"}
    )
    client_schemas: ClassVar[Mapping[str, Shape]] = CLIENT_SCHEMAS

    # --- checking ---------------------------------------------------------------------------

    def classify(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        return checking.classify(self, obj, raw, frame, t)

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        return checking.content_findings(self, msgs, transcript)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> State:
        return State(settings)

    def open(self, state: State) -> ServerSession:
        return Session(state)

    def routes(self) -> tuple[Route, ...]:
        return ROUTES

    def pages(self) -> tuple[Route, ...]:
        return page.PAGES

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return GooseWebClient(options)


PROTOCOL = GooseWeb()
