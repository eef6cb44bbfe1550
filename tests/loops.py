"""The event loops a server can run on, as test parameters (``mockserver.loops``)."""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["SERVER_LOOPS"]

#: asyncio's own loop, and uvloop's where it is installed (everywhere but Windows and PyPy).
SERVER_LOOPS = [
    pytest.param("asyncio"),
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
]
