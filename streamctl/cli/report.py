"""Check reports: findings as text (grouped by level), JSON, or JUnit XML for CI.

A report covers one or more checked targets (a transcript file, a live exchange). Every text
that came from a server is escaped (control characters cannot reach a terminal, and XML 1.0
cannot hold them at all).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from streamctl.cli.output import escape
from streamctl.core.check import NO_REPLY, failed
from streamctl.core.protocols.rules import excerpt
from streamctl.core.spec import Finding, Level, Rule
from streamctl.core.transcript import Frame, Transcript

__all__ = ["FORMATS", "Checked", "render"]

FORMATS = ("text", "json", "junit")


@dataclass(frozen=True)
class Checked:
    """One checked target: where it came from, its transcript and every finding."""

    name: str
    protocol: str
    transcript: Transcript
    findings: Sequence[Finding]
    rules: Sequence[Rule] = ()

    @property
    def ended(self) -> str | None:
        end = self.transcript.end
        return None if end is None else end.outcome

    def failed(self, strict: bool) -> bool:
        return failed(self.findings, strict)

    @property
    def refused(self) -> str | None:
        """Why the server gave no reply to check (one line), if it gave none."""
        return next((f.message for f in self.findings if f.rule == NO_REPLY.id), None)

    def excerpt(self, finding: Finding) -> str | None:
        """The finding's own excerpt, or the frame it points at."""
        if finding.excerpt is not None:
            return finding.excerpt
        records = self.transcript.records
        if finding.frame is None or not 0 <= finding.frame < len(records):
            return None
        record = records[finding.frame]
        if not isinstance(record, Frame):
            return None
        payload = record.payload
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        return excerpt(text)


def render(checked: Sequence[Checked], fmt: str, *, strict: bool = False) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return _json(checked, strict)
    if fmt == "junit":
        return _junit(checked, strict)
    return _text(checked, strict)


# --- text ---------------------------------------------------------------------------------


def _where(finding: Finding) -> str:
    return "" if finding.frame is None else f"frame {finding.frame}: "


def _text_target(item: Checked, strict: bool) -> list[str]:
    ended = f", ended: {item.ended}" if item.ended else ""
    lines = [f"{escape(item.name)} ({item.protocol}{ended})"]
    for level in (Level.MUST, Level.SHOULD):
        found = [f for f in item.findings if f.level is level]
        if not found:
            continue
        lines.append(f"  {level.value} ({len(found)})")
        for finding in found:
            lines.append(f"    {finding.rule}  {_where(finding)}{escape(finding.message)}")
            shown = item.excerpt(finding)
            if shown is not None:
                lines.append(f"      > {escape(shown)}")
            lines.append(f"      source: {finding.source}")
    verdict = "FAIL" if item.failed(strict) else "PASS"
    lines.append(f"  {verdict}: {escape(item.refused)}" if item.refused else f"  {verdict}")
    return lines


def _text(checked: Sequence[Checked], strict: bool) -> str:
    lines: list[str] = []
    for item in checked:
        lines.extend(_text_target(item, strict))
    bad = sum(item.failed(strict) for item in checked)
    must = sum(f.level is Level.MUST for item in checked for f in item.findings)
    should = sum(f.level is Level.SHOULD for item in checked for f in item.findings)
    lines.append(
        f"{len(checked)} checked, {bad} failed; findings: {must} MUST, {should} SHOULD"
        + (" (--strict: SHOULD fails)" if strict else "")
    )
    return "\n".join(lines)


# --- json ---------------------------------------------------------------------------------


def _json(checked: Sequence[Checked], strict: bool) -> str:
    from streamctl.core.check import unjudged  # noqa: PLC0415

    targets = [
        {
            "target": item.name,
            "protocol": item.protocol,
            "ended": item.ended,
            "failed": item.failed(strict),
            "refused": item.refused,
            "findings": [{**f.as_dict(), "excerpt": item.excerpt(f)} for f in item.findings],
            # Rules a capture lacked the facts for (docs/recording.md).
            "unjudged": [rule.id for rule in unjudged(item.transcript)],
        }
        for item in checked
    ]
    report = {
        "failed": any(item.failed(strict) for item in checked),
        "strict": strict,
        "targets": targets,
    }
    return json.dumps(report, ensure_ascii=False, indent=2)


# --- junit --------------------------------------------------------------------------------


def _detail(item: Checked, findings: Sequence[Finding]) -> str:
    parts = []
    for finding in findings:
        lines = [f"{finding.level.value} {_where(finding)}{finding.message}"]
        shown = item.excerpt(finding)
        if shown is not None:
            lines.append(f"> {shown}")
        lines.append(f"source: {finding.source}")
        parts.append("\n".join(lines))
    return escape("\n\n".join(parts))


def _testcase(suite: ET.Element, item: Checked, rule: str, strict: bool) -> bool:
    """One rule of one target; True when it fails."""
    case = ET.SubElement(suite, "testcase", classname=f"streamctl.{item.protocol}", name=rule)
    found = [f for f in item.findings if f.rule == rule]
    failing = failed(found, strict)
    if failing:
        first = found[0]
        message = escape(f"{_where(first)}{first.message}")
        node = ET.SubElement(case, "failure", type=first.level.value, message=message)
        node.text = _detail(item, found)
    elif found:
        ET.SubElement(case, "system-out").text = _detail(item, found)
    return failing


def _suite(root: ET.Element, item: Checked, strict: bool) -> tuple[int, int]:
    suite = ET.SubElement(root, "testsuite", name=escape(item.name))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="protocol", value=item.protocol)
    ET.SubElement(props, "property", name="ended", value=item.ended or "")
    rules = [rule.id for rule in item.rules]
    rules += sorted({f.rule for f in item.findings} - set(rules))
    failures = sum(_testcase(suite, item, rule, strict) for rule in rules)
    suite.set("tests", str(len(rules)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return len(rules), failures


def _junit(checked: Sequence[Checked], strict: bool) -> str:
    root = ET.Element("testsuites", name="streamctl check")
    tests = failures = 0
    for item in checked:
        count, bad = _suite(root, item, strict)
        tests, failures = tests + count, failures + bad
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
