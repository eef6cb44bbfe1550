"""Scenarios: named replies the mock server plays, loaded from directories of files.

Two kinds of file (the format is documented for people in ``docs/scenarios.md``):

* ``*.json`` — a *scripted* scenario: protocol-neutral reply scripts that every protocol renders
  in its own frames, with an optional ``match`` regex on the user's message and an optional
  ``protocols`` list. One scenario object per file, or a list of them.
* ``*.jsonl`` — a *recorded* scenario: a transcript (see :mod:`streamctl.core.transcript`)
  replayed byte for byte on the protocol it was recorded from, named by the file's stem.
* ``*.sse``, ``*.ndjson``, ``*.har`` — captures (:mod:`streamctl.engine.captures`): a raw body
  named ``NAME.PROTOCOL.sse`` or a browser's HAR file, replayed like recordings.

Every error names the file and the field to fix. The loaded set is
:mod:`streamctl.engine.scenario_set`; choosing one for a request is :mod:`streamctl.engine.choice`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamctl.core.capture import CaptureError
from streamctl.core.protocols import REGISTRY, get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol
from streamctl.core.script import Script, ScriptFormatError, Token, script_from_dict
from streamctl.core.transcript import MAGIC as TRANSCRIPT_MAGIC
from streamctl.core.transcript import Transcript, TranscriptError, load
from streamctl.engine.captures import CAPTURE_SUFFIXES, named, read_file
from streamctl.engine.fault_parsing import Fault, FaultError, parse_many
from streamctl.engine.patterns import Pattern, PatternError, compile_pattern
from streamctl.engine.scenario_set import ScenarioSet, UnknownScenarioError

__all__ = [
    "Scenario",
    "ScenarioError",
    "ScenarioSet",
    "UnknownScenarioError",
    "fingerprint",
    "load_dirs",
    "load_file",
]

SCRIPT_KEYS = frozenset(
    {"reply", "tokens", "delay_ms", "first_delay_ms", "tool", "error", "thinking"}
)
SCENARIO_KEYS = SCRIPT_KEYS | {
    "name",
    "description",
    "protocols",
    "match",
    "turns",
    "loop",
    "faults",
}
SUFFIXES = (".json", ".jsonl", *CAPTURE_SUFFIXES)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Scenario:
    """One named reply: scripted ``turns`` (one per conversation turn) or a ``recording``.

    ``turns[i]`` answers turn ``i``; past the last turn the last one repeats, or with ``loop``
    the conversation starts over from the first.
    """

    name: str
    turns: tuple[Script, ...] = ()
    description: str = ""
    protocols: frozenset[str] | None = None
    match: Pattern | None = None
    loop: bool = False
    recording: Transcript | None = None
    source: str = ""
    #: Faults every reply of this scenario gets (see docs/faults.md).
    faults: tuple[Fault, ...] = ()

    @property
    def kind(self) -> str:
        return "scripted" if self.recording is None else "recorded"

    def applies_to(self, protocol: str) -> bool:
        if self.recording is not None:
            return self.recording.protocol == protocol
        return self.protocols is None or protocol in self.protocols

    def script(self, index: int) -> Script:
        """The reply for turn ``index`` (0-based)."""
        if not self.turns:
            return Script(())
        if self.loop:
            return self.turns[index % len(self.turns)]
        return self.turns[min(max(index, 0), len(self.turns) - 1)]

    def matches(self, user_text: str) -> bool:
        return self.match is not None and self.match.search(user_text) is not None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for listings."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "protocols": self._protocol_names(),
            "match": None if self.match is None else self.match.pattern,
            "turns": len(self.turns),
            "loop": self.loop,
            "source": self.source,
        } | ({"faults": [f.spec for f in self.faults]} if self.faults else {})

    def _protocol_names(self) -> list[str] | None:
        if self.recording is not None:
            return [self.recording.protocol]
        return None if self.protocols is None else sorted(self.protocols)


# --- loading ------------------------------------------------------------------------------


def load_file(path: Path) -> list[Scenario]:
    """The scenarios in one file (``.json`` scripted, ``.jsonl`` recorded, or a capture)."""
    if path.suffix in CAPTURE_SUFFIXES:
        return _captured(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc})") from exc
    if path.suffix == ".jsonl":
        return [_recorded(path, text)]
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(obj, list):
        return [_scripted(item, path, f"[{i}]", None) for i, item in enumerate(obj)]
    return [_scripted(obj, path, "", path.stem)]


def _captured(path: Path) -> list[Scenario]:
    try:
        found = read_file(path)
    except CaptureError as exc:
        raise ScenarioError(str(exc)) from exc
    return [_recorded_transcript(path, t, name) for name, t in named(path, found)]


def load_dirs(dirs: Iterable[Path]) -> ScenarioSet:
    """Every scenario in ``dirs`` (files sorted by name; not recursive).

    A later directory's scenario replaces an earlier one of the same name (so a user's
    directory can override a bundled scenario); two of one name in one directory is an error.
    """
    found: dict[str, Scenario] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise ScenarioError(f"{directory}: not a directory")
        here: dict[str, Scenario] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            for scenario in load_file(path):
                if scenario.name in here:
                    raise ScenarioError(
                        f"{path}: 'name': {scenario.name!r} is already defined in "
                        f"{here[scenario.name].source}"
                    )
                here[scenario.name] = scenario
        found.update(here)
    return ScenarioSet(tuple(found.values()))


def fingerprint(dirs: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """What changes when a scenario file is added, removed or edited (for polling watchers)."""
    marks: list[tuple[str, int, int]] = []
    for directory in dirs:
        try:
            paths = sorted(directory.iterdir())
        except OSError:
            marks.append((str(directory), -1, -1))
            continue
        for path in paths:
            if path.suffix in SUFFIXES:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                marks.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(marks)


def _scripted(obj: Any, path: Path, index: str, default_name: str | None) -> Scenario:
    where = f"{path}{index}"
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: a scenario must be a JSON object")
    unknown = sorted(set(obj) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(SCENARIO_KEYS))})"
        )
    return Scenario(
        name=_name(obj, where, default_name),
        turns=_turns(obj, where),
        description=_text(obj, "description", where),
        protocols=_protocols(obj, where),
        match=_match(obj, where),
        loop=_flag(obj, "loop", where),
        source=str(path),
        faults=_faults(obj, where),
    )


def _faults(obj: Mapping[str, Any], where: str) -> tuple[Fault, ...]:
    value = obj.get("faults", [])
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise ScenarioError(f"{where}: 'faults' must be a list of fault specs (strings)")
    try:
        return parse_many(value)
    except FaultError as exc:
        raise ScenarioError(f"{where}: 'faults': {exc}") from exc


def _name(obj: Mapping[str, Any], where: str, default: str | None) -> str:
    name = obj.get("name", default)
    if name is None:
        raise ScenarioError(f"{where}: 'name' is required for each scenario in a list")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScenarioError(
            f"{where}: 'name' must be 1-100 letters, digits, '.', '_' or '-' "
            f"(starting with a letter or digit), not {name!r}"
        )
    return name


def _text(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: {key!r} must be a string")
    return value


def _flag(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}: {key!r} must be true or false")
    return value


def _protocols(obj: Mapping[str, Any], where: str) -> frozenset[str] | None:
    value = obj.get("protocols")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise ScenarioError(f"{where}: 'protocols' must be a non-empty list of protocol names")
    unknown = [p for p in value if p not in REGISTRY]
    if unknown:
        raise ScenarioError(
            f"{where}: 'protocols': unknown protocol {unknown[0]!r} (known: {', '.join(REGISTRY)})"
        )
    return frozenset(value)


def _match(obj: Mapping[str, Any], where: str) -> Pattern | None:
    value = obj.get("match")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: 'match' must be a regular expression (a string)")
    try:
        return compile_pattern(value)
    except PatternError as exc:
        raise ScenarioError(
            f"{where}: 'match' is not a valid regular expression (RE2 syntax): {exc}"
        ) from None


def _turns(obj: Mapping[str, Any], where: str) -> tuple[Script, ...]:
    has_script = bool(SCRIPT_KEYS & set(obj))
    if "turns" not in obj:
        if not has_script:
            raise ScenarioError(f"{where}: give the reply as 'reply', 'tokens' or 'turns'")
        return (_script(obj, where),)
    if has_script:
        fields = ", ".join(sorted(SCRIPT_KEYS & set(obj)))
        raise ScenarioError(f"{where}: 'turns' cannot be combined with {fields}")
    turns = obj["turns"]
    if not isinstance(turns, list) or not turns:
        raise ScenarioError(f"{where}: 'turns' must be a non-empty list of replies")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise ScenarioError(f"{where}.turns[{i}]: a turn must be an object")
        extra = sorted(set(turn) - SCRIPT_KEYS)
        if extra:
            raise ScenarioError(f"{where}.turns[{i}]: unknown field {extra[0]!r}")
    return tuple(_script(turn, f"{where}.turns[{i}]") for i, turn in enumerate(turns))


def _script(obj: Mapping[str, Any], where: str) -> Script:
    try:
        return script_from_dict(obj, where)
    except ScriptFormatError as exc:
        raise ScenarioError(str(exc)) from exc


def parse_scenario(text: str, source: str, name: str | None = None) -> Scenario:
    """One scenario from its text, as a file would hold it: a scripted scenario (a JSON object)
    or a recording (a transcript). ``name`` overrides or supplies the scenario's name."""
    path = Path(source)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        if "\n" not in text.strip():  # one line: meant as a JSON object, not a transcript
            raise ScenarioError(f"{source}: not valid JSON ({exc})") from exc
        obj = None  # not one JSON document: a transcript's JSON Lines
    if isinstance(obj, dict) and obj.get("format") != TRANSCRIPT_MAGIC:
        return _scripted({**obj, "name": name} if name else obj, path, "", None)
    return _recorded(path, text, name or "recording")


def _recorded(path: Path, text: str, name: str | None = None) -> Scenario:
    try:
        transcript = load(text)
    except TranscriptError as exc:
        raise ScenarioError(f"{path}: not a valid transcript: {exc}") from exc
    return _recorded_transcript(path, transcript, name)


def _recorded_transcript(path: Path, transcript: Transcript, name: str | None) -> Scenario:
    if transcript.protocol not in REGISTRY:
        raise ScenarioError(
            f"{path}: 'protocol': unknown protocol {transcript.protocol!r} "
            f"(known: {', '.join(REGISTRY)})"
        )
    proto = get(transcript.protocol)
    if proto.transport != transcript.header.transport:
        raise ScenarioError(
            f"{path}: 'transport': {transcript.protocol} is {proto.transport}, "
            f"not {transcript.header.transport}"
        )
    if transcript.header.transport == "sse" and transcript.header.response is None:
        raise ScenarioError(f"{path}: 'response': an SSE recording needs the response head")
    name = name or path.stem
    if not _NAME.fullmatch(name):
        raise ScenarioError(f"{path}: the file name {name!r} is not a usable scenario name")
    meta = transcript.header.meta
    description = meta.get("description")
    return Scenario(
        name=name,
        turns=(recorded_script(proto, transcript),),
        description=description if isinstance(description, str) else "",
        recording=transcript,
        source=str(path),
    )


def recorded_script(proto: ChatProtocol, transcript: Transcript) -> Script:
    """The assistant text a recording carries, as the protocol's own client reads it.

    The server records it in the protocol's history when it replays the recording.
    """
    client = proto.client(ClientOptions(message=""))
    pieces: list[str] = []
    for _, frame in transcript.frames("server"):
        payload = frame.payload
        if isinstance(proto, SSEProtocol):
            data = payload if isinstance(payload, bytes) else payload.encode()
            pieces.extend(update.text for update in client.feed(data))
        elif isinstance(payload, str):
            pieces.append(client.on_message(payload).text)
    return Script(tuple(Token(p) for p in pieces if p))
