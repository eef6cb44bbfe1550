#!/usr/bin/env python3
"""Run every check the project has: lint, format, types, tests, and the core's coverage gate.

Usage: python scripts/test.py [extra pytest arguments]

Every step runs even when an earlier one fails, so one run shows everything that is wrong.
The last line counts the tests ("tests: N passed, N failed, N skipped"); the exit status is
non-zero when any step failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# The pure protocol core must be fully exercised: every branch of a codec or a rule is behaviour.
CORE = "streamctl/core/*"


def run(title: str, *command: str) -> bool:
    print(f"\n== {title}: {' '.join(command)}", flush=True)
    ok = subprocess.run(command, cwd=ROOT, check=False).returncode == 0
    print(f"== {title}: {'ok' if ok else 'FAILED'}", flush=True)
    return ok


def counts(junit: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from pytest's JUnit report."""
    if not junit.exists():
        return 0, 0, 0
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return total - failed - skipped, failed, skipped


def main() -> int:
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    results = [
        run("lint", PY, "-m", "ruff", "check", "."),
        run("format", PY, "-m", "ruff", "format", "--check", "."),
        run("types", PY, "-m", "mypy"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        results.append(
            run(
                "tests",
                PY,
                "-m",
                "pytest",
                "--cov",
                "--cov-branch",
                "--cov-report=",
                f"--junitxml={junit}",
                *sys.argv[1:],
            )
        )
        passed, failed, skipped = counts(junit)
    results.append(
        run(
            "core coverage", PY, "-m", "coverage", "report", f"--include={CORE}", "--fail-under=100"
        )
    )
    print(f"\n{'all checks passed' if all(results) else 'SOME CHECKS FAILED'}")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
