"""`batchgs undo` beyond the basics: a `--changed-only` run and an accounts run (location, custom
attributes) restored exactly; the typed count, `--yes` and production profiles; every kind of run that
cannot be undone refused with exit 2 and nothing sent."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import pytest

from batchgs.cli import runner
from batchgs.sandbox.server import SandboxThread
from tests.cli.changes_helpers import edited_file, read_changes, seeded_tenant, visible
from tests.cli.cli_helpers import TtySys, cli_env, run_cli, summary_of, writes_seen
from tests.cli.test_cs_cli import EVENT_FLAGS
from tests.engine.cs import cs_helpers
from tests.engine.optout.optout_helpers import write_list

ACCOUNT_FIELDS = ("name", "industry", "numberOfEmployees", "location", "customAttributes", "renewalDate")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def accounts_view(store: Any) -> dict[str, dict[str, Any]]:
    return {aid: {f: copy.deepcopy(a.get(f)) for f in ACCOUNT_FIELDS} for aid, a in store.accounts.items()}


def test_undo_of_a_changed_only_run_is_exact(sandbox: SandboxThread, tmp_path: Path) -> None:
    """A --changed-only run sends only the changed fields; undo restores exactly those, deletes what it
    created, and its plan (--dry-run) lists the same changes the run made, reversed."""
    env, _seed = seeded_tenant(sandbox, tmp_path, 50)
    before = visible(sandbox.store)
    edit = edited_file(tmp_path, 50, changed=7, new=3)
    run = run_cli(
        ["import", "users", str(edit), "--changed-only", "--run-dir", str(tmp_path / "r"), "-q"], env
    )
    assert run.exit_code == 0, run.output
    made = read_changes(tmp_path / "r")
    plan = run_cli(["undo", str(tmp_path / "r"), "--dry-run", "--run-dir", str(tmp_path / "plan")], env)
    assert plan.exit_code == 0, plan.output
    planned = read_changes(tmp_path / "plan")
    assert {(k, f, a, b) for k, action, f, b, a in made if action == "update"} == {
        (k, f, b, a) for k, action, f, b, a in planned if action == "update"
    }
    assert {k for k, action, *_ in planned if action == "delete"} == {"N00000", "N00001", "N00002"}
    writes = len(writes_seen(sandbox))
    undo = run_cli(["undo", str(tmp_path / "r"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output
    assert visible(sandbox.store) == before
    assert len(writes_seen(sandbox)) - writes == 7 + 3  # one request per record taken back
    assert read_changes(tmp_path / "u") == planned


def test_undo_of_an_accounts_run_restores_location_and_custom_attributes(
    recording_sandbox: Any, tmp_path: Path
) -> None:
    """Only customAttributes is documented to merge key by key on PUT: a changed location field goes
    out with the rest of the row's location (the run) or of the location as it is now (the undo), so
    a service that replaces the object whole loses nothing either."""
    sandbox, log = recording_sandbox()
    env = cli_env(sandbox, tmp_path / "state")
    seed = run_cli(
        ["import", "accounts", str(SAMPLES / "accounts.csv"), "--run-dir", str(tmp_path / "s"), "-q"], env
    )
    assert seed.exit_code == 0, seed.output
    before = accounts_view(sandbox.store)
    with (SAMPLES / "accounts.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        headers, rows = list(reader.fieldnames or []), list(reader)
    rows[0].update({"location.city": "Lyon", "custom.tier": "gold", "numberOfEmployees": "13000"})
    rows[1].update({"name": "Globex International", "renewalDate": "2028-01-01"})
    rows.append({**rows[2], "id": "ACC-NEW", "name": "Newco"})
    edit = tmp_path / "accounts.csv"
    with edit.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers)
        writer.writeheader()
        writer.writerows(rows)
    run = run_cli(
        ["import", "accounts", str(edit), "--changed-only", "--run-dir", str(tmp_path / "r"), "-q"], env
    )
    assert run.exit_code == 0, run.output
    first = rows[0]["id"]
    assert sandbox.store.accounts[first]["location"]["city"] == "Lyon"
    assert summary_of(tmp_path / "r")["changes"] == {"create": 1, "update": 2}
    country = before[first]["location"]["countryName"]
    sent = [body for method, path, body in log.entries if method == "PUT" and path.endswith(f"/{first}")]
    assert sent == [
        {
            "id": first,
            "numberOfEmployees": 13000,
            "location": {"countryName": country, "city": "Lyon"},
            "customAttributes": {"tier": "gold"},
        }
    ]
    undo = run_cli(["undo", str(tmp_path / "r"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output
    sent = [body for method, path, body in log.entries if method == "PUT" and path.endswith(f"/{first}")]
    assert sent[-1]["location"] == {"countryName": country, "city": before[first]["location"]["city"]}
    assert sent[-1]["customAttributes"] == {"tier": before[first]["customAttributes"]["tier"]}
    assert accounts_view(sandbox.store) == before
    assert (
        sandbox.store.accounts[first]["location"]["countryName"] == before[first]["location"]["countryName"]
    )


def test_undo_asks_for_the_typed_count_and_respects_production_profiles(
    sandbox: SandboxThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, _seed = seeded_tenant(sandbox, tmp_path, 8)
    before = visible(sandbox.store)
    edit = edited_file(tmp_path, 8, changed=4, new=0)
    assert run_cli(["import", "users", str(edit), "--run-dir", str(tmp_path / "r"), "-q"], env).exit_code == 0
    edited = visible(sandbox.store)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "batchgs.toml").write_text("[profiles.live]\nproduction = true\n", encoding="utf-8")
    writes = len(writes_seen(sandbox))

    production = run_cli(["--profile", "live", "undo", str(tmp_path / "r"), "--yes"], env)
    assert production.exit_code == 2, production.output
    assert "profile 'live' is marked production: --yes alone does not confirm this run" in production.output
    assert len(writes_seen(sandbox)) == writes

    monkeypatch.setattr(runner, "sys", TtySys())  # a terminal: the count is typed back
    wrong = run_cli(["undo", str(tmp_path / "r"), "--run-dir", str(tmp_path / "u1")], env, stdin="5\n")
    assert wrong.exit_code == 2, wrong.output
    assert "Type 4 to confirm" in wrong.stderr and "nothing was sent" in wrong.stderr
    assert len(writes_seen(sandbox)) == writes and visible(sandbox.store) == edited
    assert not (tmp_path / "u1").exists()  # refused: no run folder left behind

    right = run_cli(["undo", str(tmp_path / "r"), "--run-dir", str(tmp_path / "u1")], env, stdin="4\n")
    assert right.exit_code == 0, right.output
    assert visible(sandbox.store) == before

    assert (
        run_cli(["import", "users", str(edit), "--run-dir", str(tmp_path / "r2"), "-q"], env).exit_code == 0
    )
    confirmed = run_cli(
        ["--profile", "live", "undo", str(tmp_path / "r2"), "--yes", "--run-dir", str(tmp_path / "u3")],
        {**env, "BATCHGS_CONFIRM_PRODUCTION": "live"},
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert visible(sandbox.store) == before


def test_runs_that_cannot_be_undone_are_refused_with_exit_2(sandbox: SandboxThread, tmp_path: Path) -> None:
    env, _seed = seeded_tenant(sandbox, tmp_path, 5)
    cs_env = cs_helpers.cli_env(sandbox, tmp_path / "state")
    events = cs_helpers.write_events(tmp_path / "cs.csv", 3)
    cs = run_cli(
        ["import", "cs-events", str(events), *EVENT_FLAGS, "--run-dir", str(tmp_path / "cs"), "-q"], cs_env
    )
    assert cs.exit_code == 0, cs.output
    people = write_list(tmp_path / "people.csv", [("U000001", "")])
    optout = run_cli(["optout", str(people), "--yes", "--run-dir", str(tmp_path / "o"), "-q"], env)
    assert optout.exit_code == 0, optout.output
    prefs = tmp_path / "prefs.csv"
    prefs.write_text("identifyId,surveys\nU000002,false\n", encoding="utf-8")
    pref_run = run_cli(
        ["import", "preferences", str(prefs), "--yes", "--run-dir", str(tmp_path / "p"), "-q"], env
    )
    assert pref_run.exit_code == 0, pref_run.output
    undo = run_cli(["undo", str(tmp_path / "seed-run"), "--yes", "--run-dir", str(tmp_path / "u"), "-q"], env)
    assert undo.exit_code == 0, undo.output  # the seed import taken back: an undo run to refuse below
    assert sandbox.store.users == {}

    writes = len(writes_seen(sandbox))
    cases = [
        ("cs", "cs-events are permanent in Gainsight"),
        ("o", "opt-outs are not undone, by design"),
        ("p", "undo takes back users and accounts imports only, not preferences"),
        ("u", "is an undo run"),
        ("nowhere", "nowhere"),
    ]
    for folder, message in cases:
        refused = run_cli(
            ["undo", str(tmp_path / folder), "--yes", "--run-dir", str(tmp_path / f"x-{folder}")], env
        )
        assert refused.exit_code == 2, (folder, refused.output)
        errors = [line for line in refused.stderr.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and message in errors[0], (folder, refused.stderr)
        assert "Traceback" not in refused.output
        assert not (tmp_path / f"x-{folder}").exists()
    assert len(writes_seen(sandbox)) == writes


def test_readme_and_help_name_the_changes_commands_files_and_exit_codes(tmp_path: Path) -> None:
    env = {"BATCHGS_STATE_DIR": str(tmp_path / "state")}
    import_help = run_cli(["import", "--help"], env).output
    undo_help = run_cli(["undo", "--help"], env).output
    readme = (SAMPLES.parent / "README.md").read_text(encoding="utf-8")
    for name in ("--changed-only", "changes.csv", "batchgs undo RUN_DIR", "--no-backup"):
        assert name in " ".join(import_help.split()) and name in readme, name
    assert "key, action, field, before, after" in " ".join(import_help.split())
    assert "`key`, `action` (`create` | `update` | `delete`), `field`, `before`, `after`" in " ".join(
        readme.split()
    )
    flat_undo = " ".join(undo_help.split())
    for words in (
        "Exit 0 all undone, 1 some conflicts or failures, 2 nothing can be undone",
        "--dry-run",
        "--yes",
    ):
        assert words in flat_undo, words
    assert "`batchgs undo RUN_DIR`: 0 everything taken back, 1 some records were conflicts" in " ".join(
        readme.split()
    )
