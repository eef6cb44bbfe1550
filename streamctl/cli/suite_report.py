"""The contract suite's report: per probe pass / fail / not run, as text, JSON or JUnit XML.

Text from a server is escaped (control characters cannot reach a terminal or XML).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from streamctl.cli.output import escape
from streamctl.core.probe import ProbeResult
from streamctl.core.probes import Coverage
from streamctl.core.spec import Finding, Level

__all__ = ["SuiteRun", "render_suite"]


@dataclass(frozen=True)
class SuiteRun:
    """One suite run against one server: every probe's result, coverage, stale baseline."""

    target: str
    protocol: str
    results: Sequence[ProbeResult]
    coverage: Coverage
    stale: Sequence[tuple[str, str]] = ()
    strict: bool = False

    @property
    def ran(self) -> int:
        return sum(r.status != "not run" for r in self.results)

    @property
    def failed(self) -> bool:
        """A failed probe, a stale baseline, or nothing checked at all fails the run."""
        return any(r.status == "fail" for r in self.results) or bool(self.stale) or not self.ran

    def problems(self) -> list[str]:
        """The run-level reasons to fail, one line each."""
        lines = [f"baseline is stale: remove {probe} {rule}" for probe, rule in self.stale]
        if not self.ran:
            lines.append("nothing was checked: no probe could run")
        return lines


def render_suite(run: SuiteRun, fmt: str) -> str:
    if fmt == "json":
        return _json(run)
    if fmt == "junit":
        return _junit(run)
    return _text(run)


def _finding_lines(finding: Finding, indent: str) -> list[str]:
    return [
        f"{indent}{finding.level.value} {finding.rule}  {escape(finding.message)}",
        *([f"{indent}  > {escape(finding.excerpt)}"] if finding.excerpt else []),
        f"{indent}  source: {finding.source}",
    ]


def _text(run: SuiteRun) -> str:
    lines = [f"{escape(run.target)} ({run.protocol}: {len(run.results)} probes)"]
    width = max((len(r.probe.name) for r in run.results), default=0)
    for result in run.results:
        status = result.status.upper() if result.status == "fail" else result.status
        why = f": {escape(result.why)}" if result.why else ""
        lines.append(f"  {result.probe.name:<{width}}  {status}{why}")
        for finding in result.findings:
            lines += _finding_lines(finding, "    ")
        for finding in result.known:
            lines.append(f"    known (baseline): {finding.rule}  {escape(finding.message)}")
    lines.append(run.coverage.line())
    lines += run.problems()
    findings = [f for r in run.results for f in r.findings]
    must = sum(f.level is Level.MUST for f in findings)
    counts = {s: sum(r.status == s for r in run.results) for s in ("pass", "fail", "not run")}
    lines.append(
        f"{len(run.results)} probes: {counts['pass']} passed, {counts['fail']} failed, "
        f"{counts['not run']} not run; findings: {must} MUST, {len(findings) - must} SHOULD"
        + (" (--strict: SHOULD fails)" if run.strict else "")
        + f"; {'FAIL' if run.failed else 'PASS'}"
    )
    return "\n".join(lines)


def _json(run: SuiteRun) -> str:
    probes = [
        {
            "probe": r.probe.name,
            "kind": r.probe.kind,
            "status": r.status,
            "why": r.why or None,
            "findings": [f.as_dict() for f in r.findings],
            "known": [f.as_dict() for f in r.known],
        }
        for r in run.results
    ]
    cov = run.coverage
    report = {
        "target": run.target,
        "protocol": run.protocol,
        "failed": run.failed,
        "strict": run.strict,
        "probes": probes,
        "coverage": {
            "exercised": len(cov.exercised),
            "total": len(cov.total),
            "unreachable": list(cov.unreachable),
        },
        "problems": run.problems(),
    }
    return json.dumps(report, ensure_ascii=False, indent=2)


def _junit(run: SuiteRun) -> str:
    root = ET.Element("testsuites", name="streamctl check")
    suite = ET.SubElement(root, "testsuite", name=escape(run.target))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="protocol", value=run.protocol)
    ET.SubElement(props, "property", name="coverage", value=run.coverage.line())
    failures = skipped = 0
    for result in run.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"streamctl.{run.protocol}", name=result.probe.name
        )
        detail = "\n\n".join("\n".join(_finding_lines(f, "")) for f in result.findings)
        if result.status == "not run":
            skipped += 1
            ET.SubElement(case, "skipped", message=escape(f"not run: {result.why}"))
        elif result.status == "fail":
            failures += 1
            first = result.findings[0] if result.findings else None
            message = f"{first.rule}: {first.message}" if first else "failed"
            ET.SubElement(case, "failure", message=escape(message)).text = detail
        elif detail:
            ET.SubElement(case, "system-out").text = detail
    for line in run.problems():
        failures += 1
        case = ET.SubElement(suite, "testcase", classname="streamctl", name="run")
        ET.SubElement(case, "failure", message=escape(line))
    tests = len(suite.findall("testcase"))
    for node in (suite, root):
        node.set("tests", str(tests))
        node.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
