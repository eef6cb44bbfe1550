"""The page goose web serves at ``/`` and ``/session/{name}``: a small chat titled "Goose Chat".

The seed's ``GooseClient`` decides it is talking to goose web when ``GET /`` answers 200 with
"Goose Chat" in the page, so ``streamctl serve --as goose-web`` serves this at ``/``. It is a
working chat over ``/ws`` (send, streamed reply, Stop sends ``cancel``), written for the mock,
not a copy of goose's own page.
"""

from __future__ import annotations

import json

from streamctl.core.protocols.exchange import Endpoint, HttpRequest, HttpResponse, Route

__all__ = ["PAGES", "TITLE", "html"]

TITLE = "Goose Chat"

_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Goose Chat</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
#messages { border: 1px solid #ccc; border-radius: 6px; padding: .5rem 1rem; min-height: 12rem; }
.user { color: #245; } .assistant { white-space: pre-wrap; } .meta { color: #777; font-size: 90%; }
form { display: flex; gap: .5rem; margin-top: .5rem; } #input { flex: 1; }
</style>
</head>
<body>
<h1>Goose Chat</h1>
<p class="meta">streamctl mock of goose web &middot; session <code id="session"></code>
&middot; <span id="status">connecting…</span></p>
<div id="messages" aria-live="polite"></div>
<form id="form">
<input id="input" autocomplete="off" placeholder="Message goose" aria-label="Message">
<button id="send" type="submit">Send</button>
<button id="stop" type="button" disabled>Stop</button>
</form>
<script>window.GOOSE_SESSION_NAME = __SESSION__;</script>
<script>
const sessionId = window.GOOSE_SESSION_NAME || ("web-" + Date.now().toString(36));
const $ = (id) => document.getElementById(id);
$("session").textContent = sessionId;
const socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
let reply = null;
function line(cls, text) {
  const div = document.createElement("div");
  div.className = cls; div.textContent = text; $("messages").appendChild(div); return div;
}
function busy(on) { $("stop").disabled = !on; $("send").disabled = on; }
socket.onopen = () => { $("status").textContent = "connected"; };
socket.onclose = () => { $("status").textContent = "disconnected"; busy(false); };
socket.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.type === "response") {
    if (!reply) reply = line("assistant", "");
    reply.textContent += msg.content;
  } else if (msg.type === "tool_request") {
    line("meta", "tool: " + msg.tool_name);
  } else if (msg.type === "tool_response") {
    line("meta", (msg.is_error ? "tool error: " : "tool result: ") + JSON.stringify(msg.result));
  } else if (["thinking", "context_exceeded", "error", "cancelled"].includes(msg.type)) {
    line("meta", msg.type + ": " + msg.message);
  }
  if (["complete", "cancelled", "error"].includes(msg.type)) { reply = null; busy(false); }
};
$("form").onsubmit = (event) => {
  event.preventDefault();
  const content = $("input").value.trim();
  if (!content || socket.readyState !== WebSocket.OPEN) return;
  line("user", content); $("input").value = ""; reply = null; busy(true);
  socket.send(JSON.stringify({type: "message", content, session_id: sessionId,
                              timestamp: Date.now()}));
};
$("stop").onclick = () => socket.send(JSON.stringify({type: "cancel", session_id: sessionId}));
</script>
</body>
</html>
"""


def html(session: str | None) -> str:
    """The page, bound to ``session`` (``None``: the page makes a session id of its own)."""
    # JSON is a JavaScript literal; escaping "<" keeps a name from closing the script element.
    literal = json.dumps(session).replace("<", "\\u003c")
    return _HTML.replace("__SESSION__", literal)


def _page(request: HttpRequest, state: object) -> HttpResponse:
    body = html(request.path_params.get("session_name")).encode()
    return HttpResponse(200, body, (("content-type", "text/html; charset=utf-8"),))


PAGES = (
    Route(Endpoint("GET", "/", "the Goose Chat page (with serve --as goose-web)"), _page),
    Route(Endpoint("GET", "/session/{session_name}", "the Goose Chat page for one session"), _page),
)
