"""The serving process of ``streamctl serve``: ``python -m mockserver.serving``.

The ``serve`` command reads and checks its options and binds the socket, then replaces itself
with this module (``streamctl/cli/handover.py`` says why). The configuration comes as JSON in
``CONFIG_ENV``, the bound socket's descriptor in ``FD_VAR`` and the banner to print in
``BANNER_VAR`` (:mod:`mockserver.startup`): in the environment, which only the same user can
read, not on the command line, which ``ps`` shows to anyone (the configuration holds the
server's secrets). Only the server stack is imported here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys

from mockserver import run
from mockserver.app import create_app
from mockserver.config import ServerConfig
from mockserver.logwriter import LineHandler
from mockserver.startup import BANNER_VAR, CONFIG_ENV, FD_VAR, load_config

__all__ = ["STOPPED", "log_to_stderr", "main", "serve_until_stopped"]

STOPPED = "streamctl mock server stopped"


def log_to_stderr(logger: logging.Logger) -> None:
    """The server's own messages on stderr, written from a thread as the request log is (a
    full pipe blocks no loop)."""
    handler = LineHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve_until_stopped(config: ServerConfig, sock: socket.socket, banner: str) -> None:
    """Serve on ``sock`` until Ctrl-C or SIGTERM (a Ctrl-C during start-up too), then say so.

    The banner is printed once the app is made (its scenarios loaded), so that a client that
    waits for it is served at once, not after the start-up."""
    log_to_stderr(logging.getLogger("mockserver"))
    with contextlib.suppress(KeyboardInterrupt):
        app = create_app(config) if config.workers <= 1 else None
        print(banner, file=sys.stderr, flush=True)
        run.serve(config, sock=sock, app=app)
    print(STOPPED, file=sys.stderr, flush=True)


def main() -> int:
    text, fd = os.environ.pop(CONFIG_ENV, None), os.environ.pop(FD_VAR, None)
    banner = os.environ.pop(BANNER_VAR, "")
    if text is None or fd is None or not fd.isdigit():
        print("error: mockserver.serving is started by `streamctl serve`", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(fd))
    serve_until_stopped(load_config(text), sock, banner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
