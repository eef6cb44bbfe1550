"""Baselines: the findings a team already knows about, so ``check`` gates only new ones.

A baseline lists findings by probe and rule id. Known findings do not fail a run; a known
finding that no longer appears makes the baseline stale, and a stale baseline fails too, so it
can only shrink.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from streamctl.core.check import failed
from streamctl.core.probe import ProbeResult, Status

__all__ = ["BaselineError", "apply", "dump", "load"]

Key = tuple[str, str]  # (probe, rule id)


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message says why."""


def load(text: str) -> set[Key]:
    """The known ``(probe, rule)`` pairs of a baseline file."""
    try:
        obj: Any = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"not JSON: {exc}") from None
    known = obj.get("known") if isinstance(obj, dict) else None
    if not isinstance(known, list) or not all(
        isinstance(k, dict) and isinstance(k.get("probe"), str) and isinstance(k.get("rule"), str)
        for k in known
    ):
        raise BaselineError('expected {"known": [{"probe": "…", "rule": "…"}, …]}')
    return {(k["probe"], k["rule"]) for k in known}


def dump(protocol: str, results: Sequence[ProbeResult]) -> str:
    """A baseline knowing every finding of ``results``."""
    keys = sorted({(r.probe.name, f.rule) for r in results for f in (*r.findings, *r.known)})
    known = [{"probe": probe, "rule": rule} for probe, rule in keys]
    return json.dumps({"protocol": protocol, "known": known}, indent=2) + "\n"


def apply(
    results: Sequence[ProbeResult], known: set[Key], strict: bool = False
) -> tuple[list[ProbeResult], list[Key]]:
    """``results`` with known findings set aside (and each probe's status again), and the
    stale entries: known findings of probes that ran and no longer found them."""
    out: list[ProbeResult] = []
    seen: set[Key] = set()
    for result in results:
        if result.status == "not run":
            seen |= {k for k in known if k[0] == result.probe.name}  # cannot tell: not stale
            out.append(result)
            continue
        old = tuple(f for f in result.findings if (result.probe.name, f.rule) in known)
        new = tuple(f for f in result.findings if f not in old)
        seen |= {(result.probe.name, f.rule) for f in old}
        status: Status = "fail" if failed(new, strict) else "pass"
        out.append(replace(result, status=status, findings=new, known=old))
    return out, sorted(known - seen)
