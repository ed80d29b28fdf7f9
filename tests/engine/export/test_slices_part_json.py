"""A part's journal form is what `dataclasses.asdict` gives, and a copy: later pages do not change it."""

from __future__ import annotations

from dataclasses import asdict

from batchgs.engine.export.slices import Part


def test_a_part_saved_is_asdict_and_does_not_follow_later_changes() -> None:
    part = Part(id=3, order=[1, 2], lo=5, hi=9, klo="a", khi="b", next="scroll+id/=", keys=["x", "y"])
    saved = part.to_json()
    assert saved == asdict(part)
    assert Part.from_json(saved) == part
    part.order.append(7)
    part.keys.append("z")
    assert saved["order"] == [1, 2] and saved["keys"] == ["x", "y"]
