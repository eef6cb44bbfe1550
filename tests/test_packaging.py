"""A project outside the repository that only runs ``pip install <repo>`` gets everything.

Slow (it builds the wheel and installs it with its dependencies into a new virtual
environment), so it runs once per session.
"""

from __future__ import annotations

import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

THROWAWAY_TEST = textwrap.dedent(
    """
    import httpx

    from streamctl.testing import assert_conforms


    def test_contract(mock_server, stream_recorder):
        mock_server.use({"reply": "Hi from a throwaway project"}, protocol="sse-delta-done")
        httpx.get(mock_server.url("sse-delta-done"), params={"message": "hi"})
        assert assert_conforms(stream_recorder.last()) == []
        assert assert_conforms(mock_server.base_url, "goose", secret_key="test") == []
    """
)

EVERY_BUNDLED_FIXTURE = textwrap.dedent(
    """
    from mockserver.bundled import bundled_dir
    from mockserver.testing import LiveServer
    from streamctl.core.protocols import get, names
    from streamctl.testing import assert_conforms

    print(bundled_dir())
    assert "site-packages" in str(bundled_dir()), bundled_dir()
    with LiveServer() as server:
        scenarios = [p.stem for p in sorted(bundled_dir().glob("*.json"))]
        assert len(scenarios) >= 4, scenarios
        options = {"secret_key": "test"}
        for name in names():
            if name == "ws-events":
                from streamctl.core.jwt import mint_dev_token
                options = {"token": mint_dev_token(server.config.jwt_secret)}
            recorded = f"recorded-{name}"
            assert (bundled_dir() / f"{recorded}.jsonl").is_file()
            for scenario in [*scenarios, recorded]:
                # A recording replays as recorded, echo included: it was asked "Hello".
                message = "Hello" if scenario == recorded else "Hello there"
                url = f"{server.base_url}?scenario={scenario}"
                assert_conforms(url, name, message=message, **options)
                print(name, scenario, "ok")
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment where only ``pip install <repo>`` ran (plus pytest)."""
    where = tmp_path_factory.mktemp("venv")
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(ROOT), "pytest"],
        check=True,
        cwd=where,
        capture_output=True,
    )
    return python


def test_a_throwaway_project_uses_the_fixture_and_the_assertion(
    installed: Path, tmp_path: Path
) -> None:
    (tmp_path / "test_contract.py").write_text(THROWAWAY_TEST)
    result = subprocess.run(
        [installed, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_installed_wheel_serves_every_bundled_fixture_conformantly(
    installed: Path, tmp_path: Path
) -> None:
    script = tmp_path / "serve_all.py"
    script.write_text(EVERY_BUNDLED_FIXTURE)
    result = subprocess.run(
        [installed, script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ok") >= 5 * 5


def test_the_console_script_and_python_m_work(installed: Path) -> None:
    bindir = installed.parent
    for command in ([bindir / "streamctl", "--help"], [installed, "-m", "streamctl", "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert "serve" in result.stdout
