"""``streamctl token``: a development JWT for ws-events (HS256, like the seed's server)."""

from __future__ import annotations

from typing import Annotated

import typer

from streamctl.cli.common import guard
from streamctl.cli.output import Console

__all__ = ["DEFAULT_SECRET", "token_command"]

#: The mock server's default ``JWT_SECRET`` (streamctl.core.protocols.ws_events.server).
DEFAULT_SECRET = "streamctl-dev-secret"

SecretOpt = Annotated[
    str,
    typer.Option(
        "--secret",
        envvar="JWT_SECRET",
        metavar="SECRET",
        help="The HS256 secret the server verifies with.",
    ),
]
UserOpt = Annotated[str, typer.Option("--user", metavar="ID", help="The user id the token names.")]
TtlOpt = Annotated[
    float,
    typer.Option("--ttl", min=1.0, metavar="SECONDS", help="Seconds until the token expires."),
]


def token_command(
    secret: SecretOpt = DEFAULT_SECRET, user: UserOpt = "dev-user", ttl: TtlOpt = 3600.0
) -> None:
    """Mint a development JWT for ws-events and print it.

    Example: streamctl send ws-events http://127.0.0.1:8000 "Hi" --token "$(streamctl token)"
    """
    from streamctl.core.jwt import mint_dev_token  # noqa: PLC0415

    console = Console()
    with guard(console):
        console.line(mint_dev_token(secret, user_id=user, ttl_s=ttl))
