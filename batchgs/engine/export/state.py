"""An export's plan and progress in the journal: which parts exist and where each one stands.

Progress keys: `plan` (the ordered part ids, the probe's totals, the custom attribute types, the
stage) and one `part/<id>` per part, rewritten after every page, so a checkpoint costs one small
transaction whatever the number of parts. `batchgs status` and `resume` read the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from batchgs.engine.export.slices import Part, ordered
from batchgs.errors import NotResumableError
from batchgs.run.journal import Journal

PLAN_VERSION = 2  # 2: spools hold each page's bytes and its Arrow frame (1: flattened JSON rows)


@dataclass
class ExportState:
    """The parts of one export (every part ever made, split ones included) and the plan's facts."""

    journal: Journal
    parts: dict[int, Part] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # The leaves in file order per (stage, descending), made again only when parts are added (`add`
    # is the only way in after `load`): every page's checkpoint asks for the totals, and ordering ~50
    # parts each time was ~5% of the event loop's CPU in a sliced export. (A part's order and stage
    # are set before it is added.)
    _leaves: dict[tuple[str, bool], list[Part]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, journal: Journal) -> ExportState:
        state = cls(journal)
        plan = journal.get_progress("plan")
        if plan is None:
            return state
        if plan.get("version", 1) != PLAN_VERSION:
            raise NotResumableError(
                f"{journal.run_dir}: this export was started by an older batchgs, whose page spools this "
                "version does not read",
                hint="start the export again",
            )
        state.info = dict(plan.get("info") or {})
        for part_id in plan.get("parts") or []:
            data = journal.get_progress(f"part/{part_id}")
            if data is not None:
                state.parts[int(part_id)] = Part.from_json(data)
        return state

    @property
    def planned(self) -> bool:
        return bool(self.info.get("planned"))

    def next_id(self) -> int:
        return max(self.parts, default=-1) + 1

    def add(self, parts: Iterable[Part]) -> None:
        """Register new parts and the plan that lists them, in one transaction (a crash leaves the
        plan before them or after them, never parts it does not list)."""
        self._leaves.clear()
        added = list(parts)
        for part in added:
            self.parts[part.id] = part
        self.journal.set_progress_many(
            [*((f"part/{part.id}", part.to_json()) for part in added), ("plan", self._plan())]
        )

    def save(self) -> None:
        self.journal.set_progress("plan", self._plan())

    def _plan(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, "parts": sorted(self.parts), "info": self.info}

    def checkpoint(self, part: Part) -> None:
        self.journal.set_progress(f"part/{part.id}", part.to_json())

    def leaves(self, stage: str = "main", descending: bool = False) -> list[Part]:
        known = self._leaves.get((stage, descending))
        if known is None:
            known = self._leaves[(stage, descending)] = ordered(self.parts.values(), stage, descending)
        return list(known)

    def pending(self, stage: str = "main") -> list[Part]:
        return [p for p in self.leaves(stage) if p.status == "pending"]

    def totals(self, stage: str = "main") -> dict[str, int]:
        leaves = self.leaves(stage)
        return {
            "parts": len(leaves),
            "parts_done": sum(1 for p in leaves if p.status == "done"),
            "records": sum(p.records for p in leaves),
            "pages": sum(p.pages for p in self.parts.values()),
            "failed": sum(p.failed for p in leaves),
            "total_hits": sum(p.total_hits or 0 for p in leaves),
        }
