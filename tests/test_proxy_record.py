"""A proxy transcript's file (mockserver/proxy_record.py): every record written and flushed as
it happens, and a file that cannot be made is noted once, its records dropped."""

from __future__ import annotations

from pathlib import Path

from mockserver.proxy_record import TranscriptFile


def test_each_record_is_in_the_file_as_soon_as_it_is_written(tmp_path: Path) -> None:
    path, notes = tmp_path / "t.jsonl", []
    sink = TranscriptFile(path, notes.append)
    sink.write("one\n")
    sink.flush()
    assert path.read_text() == "one\n"  # an interrupted exchange keeps what arrived
    sink.write("two\n")
    sink.flush()
    sink.close()
    assert path.read_text() == "one\ntwo\n"
    assert notes == []


def test_a_file_that_cannot_be_created_is_noted_once_and_its_records_dropped(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    notes: list[str] = []
    sink = TranscriptFile(blocker / "t.jsonl", notes.append)
    assert sink.write("lost\n") == len("lost\n")
    sink.flush()
    sink.close()
    assert len(notes) == 1
    assert f"cannot write {blocker / 't.jsonl'}" in notes[0]
    assert blocker.read_text() == "x"
