"""The protocol reference users have: every rule cites a page shipped in docs/protocols/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamctl.core.protocols import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "protocols"
#: Public standards a source may cite instead (each linked from docs/protocols/).
PUBLIC = ("WHATWG", "RFC", "NDJSON spec", "github.com/block/goose")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_rule_cites_a_page_in_the_repository_or_a_public_standard(name: str) -> None:
    page = PAGES / f"{name}.md"
    assert page.is_file()
    for rule in REGISTRY[name].spec.rules:
        source = rule.source
        assert not re.search(r"PROTOCOLS\.md|goose-protocol\.md|seed \d", source), rule.id
        cited = re.findall(r"docs/protocols/[\w.-]+\.md", source)
        assert cited or source.startswith(PUBLIC), (rule.id, source)
        for path in cited:
            text = (ROOT / path).read_text()
            for section in re.findall(r"§(\d+(?:\.\d+)?)", source.partition(path)[2]):
                heading = rf"^#+ {re.escape(section)}\.? "
                assert re.search(heading, text, re.MULTILINE), (rule.id, path, section)


def test_the_index_links_every_protocols_page() -> None:
    index = (PAGES / "README.md").read_text()
    for name in REGISTRY:
        assert f"]({name}.md)" in index
