"""Memory bounds measured where they are real: the peak resident size of a fresh Python process.

``peak_growth(setup, action)`` runs ``setup`` (say, read a body from a file), notes the process's
resident size, runs ``action`` and returns how far the peak rose above that size, in bytes. A
fresh process keeps other tests' garbage out of the figure; the peak (``VmHWM``) catches what
was allocated and freed again before anyone could look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

__all__ = ["MB", "peak_growth"]

MB = 1024 * 1024

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child would report
# its parent's size (the test process's) as its own peak.
_HARNESS = """
import json

def _status(name):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(name + ":"))
    return int(line.split()[1]) * 1024

{setup}
_before = _status("VmRSS")
{action}
print(json.dumps({{"before": _before, "peak": _status("VmHWM")}}))
"""


def peak_growth(setup: str, action: str, *, timeout: float = 300.0) -> int:
    """How many bytes the process's peak resident size rose above its size before ``action``."""
    if not os.path.exists("/proc/self/status"):  # pragma: no cover (Linux only)
        pytest.skip("needs /proc to read the resident size")
    code = _HARNESS.format(
        setup=textwrap.dedent(setup),
        action=textwrap.dedent(action),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return max(0, int(figures["peak"]) - int(figures["before"]))
