"""``streamctl check URL``'s contract suite: select the probes, run them, apply a baseline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from streamctl.cli.common import run
from streamctl.errors import UsageError

if TYPE_CHECKING:
    from streamctl.cli.suite_report import SuiteRun
    from streamctl.core.protocols.exchange import ClientOptions
    from streamctl.core.protocols.protocol import ChatProtocol
    from streamctl.net import Limits, Observer

__all__ = ["suite_check", "write_baseline"]


def suite_check(
    proto: ChatProtocol,
    url: str,
    options: ClientOptions,
    bounds: Limits,
    *,
    probes: list[str],
    quick: bool,
    strict: bool,
    jwt_secret: str | None,
    baseline: Path | None,
    observer: Observer | None = None,
) -> SuiteRun:
    """Run the selected probes of ``proto``'s suite against ``url``."""
    from streamctl.cli.suite_report import SuiteRun  # noqa: PLC0415
    from streamctl.core.probe import Context  # noqa: PLC0415
    from streamctl.core.probes import coverage, select  # noqa: PLC0415
    from streamctl.net.probe import run_suite  # noqa: PLC0415

    try:
        chosen = select(proto, probes, quick)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    known = _baseline(baseline)
    idle = bounds.idle or 5.0
    ctx = Context(proto, options, idle_s=idle, now=time.time(), jwt_secret=jwt_secret)
    results = run(run_suite(chosen, ctx, url, bounds, strict=strict, observer=observer))
    stale: list[tuple[str, str]] = []
    if known is not None:
        from streamctl.core.baseline import apply  # noqa: PLC0415

        results, stale = apply(results, known, strict)
    return SuiteRun(url, proto.name, results, coverage(proto, results), stale, strict)


def _baseline(path: Path | None) -> set[tuple[str, str]] | None:
    if path is None:
        return None
    from streamctl.core.baseline import BaselineError, load  # noqa: PLC0415

    try:
        return load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read baseline {path}: {exc.strerror}") from exc
    except BaselineError as exc:
        raise UsageError(f"baseline {path}: {exc}") from exc


def write_baseline(path: Path, suite: SuiteRun) -> None:
    """Write a baseline knowing every finding of ``suite``."""
    from streamctl.core.baseline import dump  # noqa: PLC0415

    try:
        path.write_text(dump(suite.protocol, suite.results), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
