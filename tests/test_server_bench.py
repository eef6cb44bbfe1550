"""The server benchmark compares like with like: its reference apps write the mock's bytes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from websockets.sync.client import connect

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from tests.live import converse

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_server.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_server", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_server"] = module
    spec.loader.exec_module(module)
    return module


def test_the_reference_apps_write_exactly_what_the_mock_streams(
    bench: ModuleType, tmp_path: Path
) -> None:
    bench.scenarios(tmp_path, 7, 2)
    data = bench.rendered(7)
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        (sse,) = converse(server, "sse-delta-done", ["benchmark"], scenario="bench")
        chunks = [f.payload.decode() for _, f in sse.transcript.frames()]  # type: ignore[union-attr]
        # The same bytes; the mock sends events due together in one write (issue #21).
        assert "".join(chunks) == "".join(data["sse_chunks"])
        with connect(server.url(bench.WS_PATH, ws=True)) as ws:
            ws.send(bench.WS_MESSAGE)
            messages = [ws.recv(timeout=10) for _ in data["ws_messages"]]
        assert messages == data["ws_messages"]
    assert json.loads(data["ws_messages"][-1])["type"] == "complete"
