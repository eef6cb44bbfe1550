"""The ``streamctl`` command: one Typer app, one module per command.

Importing this module must stay cheap (``streamctl --help`` is measured by
``scripts/bench_cli_help.py``): the command modules import only Typer and this package's light
parts at module level; the protocol registry, httpx, websockets and the server stack are
imported inside the commands that use them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from streamctl.cli import handover
from streamctl.cli.chat import chat_command
from streamctl.cli.check import check_command
from streamctl.cli.imports import import_command
from streamctl.cli.inspect import inspect_command
from streamctl.cli.load import load_command
from streamctl.cli.protocols import protocols_command, spec_command
from streamctl.cli.proxy import proxy_command
from streamctl.cli.record import record_command
from streamctl.cli.send import send_command
from streamctl.cli.serve import serve_command
from streamctl.cli.token import token_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="streamctl",
    help="Send, record, inspect and conformance-check chat-streaming protocols "
    "(SSE and WebSocket), and serve them from a mock server.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from streamctl import __version__  # noqa: PLC0415

        typer.echo(f"streamctl {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Send, record, inspect and conformance-check chat-streaming protocols (SSE and
    WebSocket), and serve them from a mock server."""


app.command("send")(send_command)
app.command("chat")(chat_command)
app.command("record")(record_command)
app.command("check")(check_command)
app.command("inspect")(inspect_command)
app.command("import")(import_command)
app.command("load")(load_command)
app.command("protocols")(protocols_command)
app.command("spec")(spec_command)
app.command("token")(token_command)
app.command("serve")(serve_command)
app.command("proxy")(proxy_command)


def main() -> None:
    """The console-script entry point (``serve`` then hands its socket to a lean interpreter on
    the C allocator: streamctl/cli/handover.py)."""
    handover.allow()
    app(prog_name="streamctl")
