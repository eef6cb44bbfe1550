"""``streamctl protocols`` and ``streamctl spec``: what the registry knows, as tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from streamctl.cli.common import ProtocolArg, guard, resolve_protocol
from streamctl.cli.output import Console, json_line
from streamctl.errors import UsageError

if TYPE_CHECKING:
    from streamctl.core.probe import Probe
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.core.spec import Rule

__all__ = ["protocols_command", "spec_command"]

FORMATS = ("text", "json", "markdown")
SPEC_FORMATS = (*FORMATS, "asyncapi")

FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", metavar="FORMAT", help="Output format: text, json or markdown."),
]
SpecFormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="Output format: text, json, markdown, or asyncapi (an AsyncAPI 3.0 document).",
    ),
]


def _format(fmt: str, known: tuple[str, ...] = FORMATS) -> str:
    if fmt not in known:
        raise UsageError(f"--format must be one of {', '.join(known)}, not {fmt!r}")
    return fmt


def _protocol_dict(proto: ChatProtocol) -> dict[str, object]:
    return {
        "name": proto.name,
        "title": proto.title,
        "transport": proto.transport,
        "seed": proto.seed,
        "imitates": proto.imitates,
        "endpoints": [
            {"method": e.method, "path": e.path, "summary": e.summary, "stream": e.stream}
            for e in proto.endpoints
        ],
    }


def _protocol_text(proto: ChatProtocol, markdown: bool) -> list[str]:
    if markdown:
        lines = [f"### `{proto.name}` — {proto.title}", ""]
        lines += [f"- `{e.method} {e.path}`: {e.summary}" for e in proto.endpoints]
        return [*lines, ""]
    page = f"docs/protocols/{proto.name}.md"
    lines = [f"{proto.name:<16} {proto.transport:<4} {proto.title} ({page})"]
    for e in proto.endpoints:
        mark = "*" if e.stream else " "
        lines.append(f"  {mark} {e.method:<6} {e.path}  {e.summary}")
    return lines


def protocols_command(fmt: FormatOpt = "text") -> None:
    """List the protocols and their endpoints (* marks the streaming one).

    Example: streamctl protocols
    """
    from streamctl.core.protocols import REGISTRY  # noqa: PLC0415

    console = Console()
    with guard(console):
        if _format(fmt) == "json":
            for proto in REGISTRY.values():
                console.line(json_line(_protocol_dict(proto)))
            return
        for proto in REGISTRY.values():
            console.line("\n".join(_protocol_text(proto, fmt == "markdown")))


def _asyncapi(proto: ChatProtocol) -> str:
    import json  # noqa: PLC0415

    from streamctl import __version__  # noqa: PLC0415
    from streamctl.core.asyncapi import document  # noqa: PLC0415

    return json.dumps(document(proto, __version__), indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rules_text(rules: tuple[Rule, ...], fmt: str) -> list[str]:
    if fmt == "markdown":
        lines = ["| id | level | rule | source |", "|---|---|---|---|"]
        return lines + [
            f"| `{r.id}` | {r.level.value} | {_cell(r.text)} | {_cell(r.source)} |" for r in rules
        ]
    width = max((len(r.id) for r in rules), default=0)
    lines = []
    for rule in rules:
        lines.append(f"{rule.id:<{width}}  {rule.level.value:<6}  {rule.text}")
        lines.append(f"{'':<{width}}  {'':<6}  source: {rule.source}")
    return lines


def _probes_text(proto: ChatProtocol, fmt: str) -> list[str]:
    from streamctl.core.probes import suite, unreachable  # noqa: PLC0415

    probes = suite(proto)
    if fmt == "markdown":
        lines = ["", "| probe | kind | what it checks | its own rules |", "|---|---|---|---|"]
        for p in probes:
            own = ", ".join(f"`{r.id}`" for r in p.rules)
            lines.append(f"| `{p.name}` | {p.kind} | {_cell(p.text)} | {own} |")
        return lines
    width = max(len(p.name) for p in probes)
    lines = ["", f"probes (streamctl check {proto.name} URL runs them all):"]
    for p in probes:
        lines.append(f"  {p.name:<{width}}  {p.kind:<12}  {p.text}")
        lines += [f"  {'':<{width}}  {'':<12}  rule {r.id}: {r.text}" for r in p.rules]
    away = ", ".join(unreachable(proto)) or "none"
    return [*lines, f"not reachable from outside: {away}"]


def spec_command(protocol: ProtocolArg, fmt: SpecFormatOpt = "text") -> None:
    """Print a protocol's rules (id, level MUST/SHOULD, text, source) and the probes of its
    contract suite (what `streamctl check PROTOCOL URL` runs); or, with --format asyncapi, its
    channel, operations and message schemas as an AsyncAPI 3.0 document.

    Example: streamctl spec sse-delta-done --format markdown
    """
    from streamctl.core.probes import suite_rules  # noqa: PLC0415

    console = Console()
    with guard(console):
        proto = resolve_protocol(protocol)
        rules = suite_rules(proto)
        if _format(fmt, SPEC_FORMATS) == "asyncapi":
            console.line(_asyncapi(proto))
            return
        if fmt == "json":
            for rule in rules:
                obj = {"id": rule.id, "level": rule.level.value, "text": rule.text}
                console.line(json_line({**obj, "source": rule.source}))
            for p in _suite(proto):
                rule_ids = [r.id for r in p.rules]
                console.line(
                    json_line(
                        {
                            "probe": p.name,
                            "kind": p.kind,
                            "text": p.text,
                            "rules": rule_ids,
                            "needs": list(p.needs),
                        }
                    )
                )
            return
        console.line("\n".join([*_rules_text(rules, fmt), *_probes_text(proto, fmt)]))


def _suite(proto: ChatProtocol) -> tuple[Probe, ...]:
    from streamctl.core.probes import suite  # noqa: PLC0415

    return suite(proto)
