"""Slicing never degrades silently: a bulk-load hour, a tenant whose createDates are all equal, and
ids that sort awkwardly are still cut into about `--slices` cursors, every record exactly once."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from batchgs.run.journal import Journal
from batchgs.sandbox.seed import seed_store
from batchgs.sandbox.store import PxStore
from tests.engine.export.export_helpers import ANCHOR, options_for, read_csv, run_library

PAGE = 50
AWKWARD = [
    "Zoë",
    "zoe",
    "ZOE ",
    "a b",
    "a/b",
    "a?b",
    "a#b",
    "a%2Fb",
    "émile",
    "Émile",
    "___",
    "~x",
    "0",
    "00",
    "-1",
]


def leaf_parts(run_dir: Path) -> list[dict[str, Any]]:
    with Journal.open(run_dir, lock=False) as journal:
        plan = journal.get_progress("plan")
        parts = [journal.get_progress(f"part/{i}") for i in plan["parts"]]
    return [p for p in parts if p["status"] == "done"]


def exported_ids(path: Path) -> list[str]:
    return [row["identifyId"] for row in read_csv(path)]


def test_a_bulk_load_hour_is_cut_in_one_step_into_even_parts(sandbox_factory, tmp_path: Path) -> None:
    store = seed_store(PxStore(), seed=3, users=8_000, accounts=0, events=0, anchor_ms=ANCHOR, cluster=0.6)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "users.csv"
    run = run_library(
        sandbox, tmp_path / "s", tmp_path / "r", options_for("users", out, slices=16, page_size=PAGE)
    )
    assert run.error is None and run.result is not None
    ids = exported_ids(out)
    assert len(ids) == len(set(ids)) == len(store.users) == run.result.expected
    leaves = leaf_parts(tmp_path / "r")
    target = 8_000 // 32  # split_target: half a slice's share
    assert len(leaves) >= 16
    assert max(p["records"] for p in leaves) <= 3 * target  # no part left holding the cluster
    assert max(len(p["order"]) for p in leaves) <= 2  # the plan, then one split: no split of a split
    assert run.result.warnings == []


def test_all_equal_create_dates_are_cut_by_identify_id(sandbox_factory, tmp_path: Path) -> None:
    rng = random.Random(11)
    store = PxStore()
    names = [f"{rng.choice(AWKWARD)}{i}" for i in range(2_400)] + AWKWARD
    for key in names:
        store.users[key] = {"identifyId": key, "email": None, "createDate": ANCHOR, "id": key}
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "users.csv"
    run = run_library(
        sandbox, tmp_path / "s", tmp_path / "r", options_for("users", out, slices=8, page_size=PAGE)
    )
    assert run.error is None and run.result is not None
    ids = exported_ids(out)
    assert sorted(ids) == sorted(store.users)  # every record once, awkward ids at range borders too
    leaves = leaf_parts(tmp_path / "r")
    assert len(leaves) >= 8, [p["records"] for p in leaves]  # it was one cursor: date span 0
    assert all(p["lo"] is None and p["hi"] is None for p in leaves)
    assert all(p["klo"] is not None or p["khi"] is not None for p in leaves)
    assert sum(p["records"] for p in leaves) == len(store.users)


def test_an_export_too_small_for_slices_says_it_uses_one_cursor(sandbox_factory, tmp_path: Path) -> None:
    store = seed_store(PxStore(), seed=4, users=80, accounts=0, events=0, anchor_ms=ANCHOR)
    sandbox = sandbox_factory(store=store, rate_limit=0)
    out = tmp_path / "users.csv"
    run = run_library(
        sandbox, tmp_path / "s", tmp_path / "r", options_for("users", out, slices=16, page_size=PAGE)
    )
    assert run.error is None and run.result is not None
    assert len(exported_ids(out)) == 80
    assert any("one cursor" in note and "--slices 16" in note for note in run.result.notes), run.result.notes
