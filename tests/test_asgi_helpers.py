"""The ASGI helpers read requests exactly as the standard library would."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import example, given
from hypothesis import strategies as st

from mockserver.asgi import query_map

QUERY = st.text(alphabet=st.sampled_from(list("ab=&%+2x0é; ")), max_size=30)


def reference(query: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name, value)
    return found


@given(QUERY)
@example("message=hi&scenario=plain&message=again")
@example("a&&=b&c=d=e&")
def test_query_map_reads_what_parse_qsl_reads(query: str) -> None:
    raw = query.encode("latin-1", "replace")
    assert query_map(raw) == reference(raw.decode("latin-1"))
