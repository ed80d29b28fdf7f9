"""The plan of an opt-out run: one target per (input row, user), numbered in file order.

A row naming a user by identifyId gives one target; an email gives one per user it resolves to
(several users share it: all of them, noted), or a `not-found` target; an invalid row gives an
`invalid` target. A user named again later (the same id twice, or an id and their email) gets a
`duplicate` target that copies the first one's result, so nobody is processed twice.

Target numbers are the journal's row keys. The plan is saved in the journal once confirmed, so a
resume works on exactly the same targets even if users were created or renamed since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from batchgs.engine.optout.input import InputRow
from batchgs.engine.optout.resolve import Resolution
from batchgs.errors import NotResumableError
from batchgs.run.journal import Journal

TargetKind = Literal["user", "duplicate", "not-found", "invalid", "unsearchable"]
PLAN_KEY = "optout_plan"
# A person's status is the most pressing of their targets' (first in this order): not done beats done.
PERSON_ORDER = (
    "pending",
    "failed",
    "unsearchable",
    "to-opt-out",
    "would-opt-out",
    "opted-out",
    "already-opted-out",
    "not-found",
    "invalid",
)
CHUNK = 2_000


@dataclass(frozen=True)
class Target:
    number: int  # 1-based, file order: the journal row key
    row: int  # spreadsheet row
    identify_id: str
    email: str
    kind: TargetKind
    note: str = ""
    primary: int = 0  # duplicates: the target that does the work
    code: str = ""  # invalid rows: missing-key | bad-email

    def as_list(self) -> list[Any]:
        return [
            self.number,
            self.row,
            self.identify_id,
            self.email,
            self.kind,
            self.note,
            self.primary,
            self.code,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> Target:
        number, row, identify_id, email, kind, note, primary, code = data
        return cls(
            int(number), int(row), str(identify_id), str(email), kind, str(note), int(primary), str(code)
        )


@dataclass
class OptOutPlan:
    targets: list[Target]
    rows_total: int  # non-blank data rows
    blank_rows: int = 0
    new: bool = True  # built in this segment, not yet saved (needs confirmation)

    def of_kind(self, *kinds: TargetKind) -> list[Target]:
        return [t for t in self.targets if t.kind in kinds]

    @cached_property
    def person_of(self) -> dict[int, int]:
        """target number -> person (see group_people)."""
        return group_people(self.targets)

    @property
    def people_listed(self) -> int:
        return len(set(self.person_of.values()))

    @property
    def people(self) -> int:
        """People the run will opt out: those with at least one PX user to process."""
        return len({self.person_of[t.number] for t in self.of_kind("user")})

    @property
    def records(self) -> int:
        """Distinct PX users the run will process (an email shared by two users gives two)."""
        return len(self.of_kind("user"))

    def plan_statuses(self) -> Counter[str]:
        """People per status before anything is sent: `to-opt-out` (identifyIds are checked as they
        are sent), `not-found` (no user has the email), `invalid`, `unsearchable`."""
        status_of = {
            t.number: "to-opt-out" if t.kind in ("user", "duplicate") else t.kind for t in self.targets
        }
        return count_people(self, status_of)


def group_people(targets: Iterable[Target]) -> dict[int, int]:
    """target number -> person (the number of that person's first target).

    A person is who the list names: one row, joined with every other row that names one of the same
    PX users (the same id twice, an id and their email, an email shared by users named elsewhere) and
    with every row asking for the same unknown email. An email matching two PX users is ONE person
    whose opt-out covers both records. An invalid row is a person by itself."""
    parent: dict[int, int] = {}

    def find(number: int) -> int:
        while parent[number] != number:
            parent[number] = parent[parent[number]]
            number = parent[number]
        return number

    def join(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_of_row: dict[int, int] = {}
    asked: dict[str, int] = {}
    for target in targets:
        parent[target.number] = target.number
        join(target.number, first_of_row.setdefault(target.row, target.number))
        if target.kind == "duplicate":
            join(target.number, target.primary)
        elif target.kind in ("not-found", "unsearchable"):
            join(target.number, asked.setdefault(target.email.strip().lower(), target.number))
    return {number: find(number) for number in parent}


def person_statuses(plan: OptOutPlan, status_of: Mapping[int, str]) -> dict[int, str]:
    """person -> status: the most pressing status among the person's targets (see PERSON_ORDER), so
    that someone with one record opted out and one failed counts as failed, not as done."""
    rank = {status: index for index, status in enumerate(PERSON_ORDER)}
    person_of = plan.person_of
    out: dict[int, str] = {}
    for target in plan.targets:
        status = status_of.get(target.number)
        if status is None:
            continue
        person = person_of[target.number]
        held = out.get(person)
        if held is None or rank.get(status, -1) < rank.get(held, -1):
            out[person] = status
    return out


def count_people(plan: OptOutPlan, status_of: Mapping[int, str]) -> Counter[str]:
    """People per status: each person once, so the statuses add up to the number of people listed."""
    return Counter(person_statuses(plan, status_of).values())


def count_records(plan: OptOutPlan, status_of: Mapping[int, str]) -> Counter[str]:
    """PX user records per status (each user once; an id no user has is not a record)."""
    return Counter(
        status
        for target in plan.of_kind("user")
        if (status := status_of.get(target.number)) is not None and status != "not-found"
    )


def build_plan(rows: Iterable[InputRow], resolution: Resolution, *, blank_rows: int = 0) -> OptOutPlan:
    targets: list[Target] = []
    first: dict[str, tuple[int, int]] = {}  # identifyId -> (target number, row)
    rows_total = 0

    def add(row: InputRow, kind: TargetKind, identify_id: str = "", note: str = "", primary: int = 0) -> None:
        targets.append(
            Target(len(targets) + 1, row.row, identify_id, row.email, kind, note, primary, row.code)
        )

    for row in rows:
        rows_total += 1
        if not row.valid:
            add(row, "invalid", note=row.message)
            continue
        if row.identify_id:
            ids, shared = [row.identify_id], ""
        else:
            email = row.email.strip().lower()
            if email in resolution.unsearchable:
                add(row, "unsearchable", note="this address holds a character the users filter cannot carry")
                continue
            ids = resolution.ids_for(email)
            if not ids:
                add(row, "not-found", note="no user has this email")
                continue
            shared = f"email matches {len(ids)} users ({', '.join(ids)})" if len(ids) > 1 else ""
        for identify_id in ids:
            if identify_id in first:
                number, first_row = first[identify_id]
                note = "; ".join(p for p in (shared, f"same person as row {first_row}") if p)
                add(row, "duplicate", identify_id, note, primary=number)
            else:
                first[identify_id] = (len(targets) + 1, row.row)
                add(row, "user", identify_id, shared)
    return OptOutPlan(targets, rows_total, blank_rows)


def save_plan(journal: Journal, plan: OptOutPlan) -> None:
    """Chunks first, the header last: a plan is there only when all of it is."""
    chunks = 0
    for start in range(0, len(plan.targets), CHUNK):
        journal.set_progress(
            f"{PLAN_KEY}:{chunks}", [t.as_list() for t in plan.targets[start : start + CHUNK]]
        )
        chunks += 1
    journal.set_progress(
        PLAN_KEY,
        {
            "chunks": chunks,
            "targets": len(plan.targets),
            "rows_total": plan.rows_total,
            "blank_rows": plan.blank_rows,
        },
    )
    journal.set_progress("rows_total", len(plan.targets))  # what `batchgs status` counts against
    plan.new = False


def load_plan(journal: Journal) -> OptOutPlan | None:
    header = journal.get_progress(PLAN_KEY)
    if not isinstance(header, dict):
        return None
    targets: list[Target] = []
    for index in range(int(header["chunks"])):
        targets.extend(Target.from_list(item) for item in journal.get_progress(f"{PLAN_KEY}:{index}", []))
    if len(targets) != int(header["targets"]):
        raise NotResumableError(
            f"{journal.run_dir}: the saved opt-out plan is incomplete "
            f"({len(targets)} of {header['targets']} targets)"
        )
    return OptOutPlan(targets, int(header["rows_total"]), int(header.get("blank_rows", 0)), new=False)
