"""``streamctl import``: keep a capture (raw SSE or NDJSON body, HAR file) as transcripts.

Each exchange found is written to DIR as ``NAME.jsonl`` (a HAR file's several exchanges as
``NAME-1.jsonl``, ``NAME-2.jsonl``…), ready for ``check`` and ``serve --scenarios DIR``. The
paths written go to stdout, one per line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamctl.cli.common import DebugOpt, guard
from streamctl.cli.output import Console
from streamctl.errors import UsageError

__all__ = ["import_command"]

SourceArg = Annotated[
    str,
    typer.Argument(
        help="A capture: a raw SSE or NDJSON body, a HAR file, or '-' for stdin.",
        metavar="FILE|-",
        show_default=False,
    ),
]
ProtocolOpt = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        "-p",
        metavar="PROTOCOL",
        help="The protocol of a raw body (a HAR file: keep only this protocol's exchanges).",
    ),
]
OutputOpt = Annotated[
    Path,
    typer.Option("--output", "-o", metavar="DIR", help="Directory to write transcripts to."),
]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", metavar="NAME", help="File name stem (default: the input's)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]


def _stem(source: str, name: str | None) -> str:
    if name is not None:
        return name
    if source == "-":
        return "capture"
    from streamctl.engine.captures import protocol_in_name  # noqa: PLC0415

    path = Path(source)
    return path.stem.rpartition(".")[0] if protocol_in_name(path) else path.stem


def import_command(
    source: SourceArg,
    *,
    output: OutputOpt,
    protocol: ProtocolOpt = None,
    name: NameOpt = None,
    force: ForceOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Turn a capture into transcripts in DIR (for check, inspect and serve --scenarios).

    Facts a capture lacks (timing, chunk boundaries, the request or response head of a raw
    body) are marked unknown in each transcript, and `check` says which rules it could not
    judge. Example: curl -sN URL > reply.sse; streamctl import reply.sse -p goose -o fixtures/
    """
    from streamctl.cli.common import resolve_protocol  # noqa: PLC0415
    from streamctl.cli.sources import read_source  # noqa: PLC0415
    from streamctl.core.transcript import dump  # noqa: PLC0415

    console = Console()
    with guard(console, debug=debug):
        wanted = None if protocol is None else resolve_protocol(protocol).name
        found = read_source(source, wanted)
        stem = _stem(source, name)
        names = [stem] if len(found) == 1 else [f"{stem}-{i}" for i in range(1, len(found) + 1)]
        targets = [output / f"{n}.jsonl" for n in names]
        existing = [str(t) for t in targets if t.exists()]
        if existing and not force:
            raise UsageError(f"{existing[0]} exists (--force overwrites it)")
        try:
            output.mkdir(parents=True, exist_ok=True)
            for target, (_, transcript) in zip(targets, found, strict=True):
                target.write_text(dump(transcript), encoding="utf-8")
                console.line(str(target))
                _note(console, target, transcript.header.unknown)
        except OSError as exc:
            raise UsageError(f"cannot write to {output}: {exc.strerror}") from exc


def _note(console: Console, target: Path, unknown: tuple[str, ...]) -> None:
    if unknown:
        console.note(f"{target}: the capture has no {', '.join(unknown)} (marked unknown)")
