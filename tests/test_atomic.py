"""featref.atomic: the one atomic write."""

from __future__ import annotations

from featref.atomic import atomic_write_bytes, atomic_write_text


def test_atomic_write_creates_parents_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "f.txt"
    atomic_write_text(target, "one")
    assert target.read_text() == "one"
    atomic_write_text(target, "two é")
    assert target.read_text(encoding="utf-8") == "two é"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]  # no stray temporary file
