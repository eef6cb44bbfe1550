"""sse-delta-done's own probes (seed 002, PROTOCOLS.md §4): a request without ``message``."""

from __future__ import annotations

from streamctl.core.probe import Context, Plan, Probe, fetch, hit, probe_rule

__all__ = ["PROBES", "UNREACHABLE"]

NAME = "sse-delta-done"
# "A missing `message` is a `422` JSON error in FastAPI's `{"detail": [...]}` shape."
MISSING = probe_rule(
    NAME,
    "bad-input.422",
    'A request without ?message= gets 422 with FastAPI\'s JSON {"detail": [...]}.',
)


def _bad_input(ctx: Context) -> Plan:
    path = ctx.proto.stream_endpoint.path
    answer = yield from fetch("GET", path, ctx.options.headers)
    obj = answer.json()
    if answer.status != 422:
        return [hit(MISSING, f"GET {path} without message: HTTP {answer.status}, not 422")]
    if not isinstance(obj, dict) or not isinstance(obj.get("detail"), list):
        said = answer.body[:80].decode("utf-8", "replace")
        return [hit(MISSING, f'the 422 body is not {{"detail": [...]}}: {said!r}')]
    return []


PROBES = (
    Probe(
        "bad-input",
        "bad-input",
        'GET without ?message=: 422 {"detail": [...]}.',
        _bad_input,
        rules=(MISSING,),
    ),
)
# An in-stream error and a tool run only happen when the server's model does them.
UNREACHABLE = ("sse-delta-done.schema.error", "sse-delta-done.schema.tool")
