"""The plan's leaves are remembered between checkpoints, and made again when parts are added."""

from __future__ import annotations

from pathlib import Path

from batchgs.engine.export.slices import Part, ordered
from batchgs.engine.export.state import ExportState
from batchgs.run.journal import Journal


def _state(tmp_path: Path) -> ExportState:
    journal = Journal.create(tmp_path / "run", kind="export", entity="users", input_path=None, options={})
    return ExportState(journal)


def test_leaves_follow_splits_and_new_stages(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.add([Part(id=0, order=[0]), Part(id=1, order=[1])])
    assert [p.id for p in state.leaves()] == [0, 1]
    assert [p.id for p in state.leaves(descending=True)] == [1, 0]
    state.add([Part(id=2, order=[0, 0]), Part(id=3, order=[0, 1])])  # part 0 split in two
    assert [p.id for p in state.leaves()] == [2, 3, 1]
    assert [p.id for p in state.leaves(descending=True)] == [1, 3, 2]
    state.add([Part(id=4, order=[0], stage="ids")])
    assert [p.id for p in state.leaves("ids")] == [4]
    assert [p.id for p in state.leaves()] == [2, 3, 1]
    assert state.leaves() == ordered(state.parts.values())


def test_totals_count_the_parts_as_they_stand_now(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.add([Part(id=0, order=[0]), Part(id=1, order=[1])])
    assert state.totals()["parts_done"] == 0
    part = state.parts[1]
    part.status, part.records, part.pages = "done", 7, 1
    state.checkpoint(part)
    totals = state.totals()
    assert (totals["parts_done"], totals["records"], totals["pages"]) == (1, 7, 1)
    state.leaves().clear()  # a caller's list is its own
    assert len(state.leaves()) == 2


def test_a_loaded_state_orders_its_parts(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.add([Part(id=0, order=[0]), Part(id=1, order=[0, 0]), Part(id=2, order=[0, 1])])
    state.save()
    loaded = ExportState.load(state.journal)
    assert [p.id for p in loaded.leaves()] == [1, 2]
