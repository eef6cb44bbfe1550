"""Imports point inward: the core and the engine never pull in the I/O stack."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import streamctl.core
import streamctl.engine

IO_STACK = ("quart", "hypercorn", "httpx", "httpx_sse", "websockets", "typer", "rich", "click")


def _modules(package: object) -> list[str]:
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    found = pkgutil.walk_packages(package.__path__, prefix)  # type: ignore[attr-defined]
    return [package.__name__, *(m.name for m in found)]  # type: ignore[attr-defined]


def _imported_by(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def test_the_core_imports_no_server_client_or_cli_library() -> None:
    modules = _modules(streamctl.core)
    assert "streamctl.core.protocols.sse_delta_done" in modules
    loaded = _imported_by(modules)
    assert [m for m in loaded if m.split(".")[0] in IO_STACK] == []


def test_the_engine_imports_no_server_client_or_cli_library() -> None:
    loaded = _imported_by(_modules(streamctl.engine))
    assert [m for m in loaded if m.split(".")[0] in IO_STACK] == []


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            found.add(node.module)
    return found


def test_only_the_cli_imports_the_cli() -> None:
    # The CLI is the outermost layer: the library (streamctl.testing, the pytest plugin, the
    # network adapters) and the server stand on the core, the engine and the net, never on it.
    root = Path(__file__).resolve().parent.parent
    sources = [*(root / "streamctl").rglob("*.py"), *(root / "mockserver").rglob("*.py")]
    outside = [
        p for p in sources if "cli" not in p.relative_to(root).parts and p.name != "__main__.py"
    ]
    assert root / "streamctl" / "testing.py" in outside
    offenders = {
        str(p.relative_to(root)): sorted(m for m in _imports(p) if m.startswith("streamctl.cli"))
        for p in outside
    }
    assert {k: v for k, v in offenders.items() if v} == {}
