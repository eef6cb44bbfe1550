"""``streamctl serve --fault/--fault-rate/--seed/--sse-ids``: validated before the server starts
and carried to worker processes."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mockserver.config import ServerConfig
from mockserver.startup import dump_config, load_config
from streamctl.cli.app import app
from streamctl.errors import ExitCode


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "drop:after=x"], "error: --fault: fault 'drop:after=x'"),
        (["--sse-ids", "sse-delta-done,chunk-complete"], "error: --sse-ids: 'chunk-complete'"),
    ],
)
def test_bad_fault_options_stop_serve_before_it_starts(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "0", *args])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_fault_settings_reach_worker_processes() -> None:
    config = ServerConfig(
        faults=("drop:after=1", "delay:ms=5"), fault_rate=0.5, seed=3, sse_ids=("goose",)
    )
    assert load_config(dump_config(config)) == config
