"""Issue 15.1 ("review every other check"): the opt-out list judges emails by the one definition
validate and the sandbox share (batchgs.entities.email). Its own stricter pattern refused `o'brien@…`
and quoted local parts: a privacy request from Ms O'Brien was marked invalid and never carried out."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.cli_helpers import cli_env, run_cli
from tests.engine.optout.optout_helpers import RecordingSandbox, populate, write_list

VALID = [
    "o'brien@example.com",
    '"ada lovelace"@example.com',
    "Łukasz.smith3@example.com",
    "josé+news@bücher.de",
]
INVALID = ["two@@example.com", "trailing.dot@example.com.", "no-domain-dot@example"]


def test_valid_unusual_addresses_are_opted_out_and_malformed_ones_are_invalid(
    recording_sandbox: RecordingSandbox, tmp_path: Path
) -> None:
    sandbox, _log = recording_sandbox()
    populate(sandbox.store, 10)
    for n, email in enumerate(VALID):
        uid = f"E{n}"
        sandbox.store.users[uid] = {"identifyId": uid, "email": email, "globalUnsubscribe": False}
    env = cli_env(sandbox, tmp_path / "state")
    path = write_list(
        tmp_path / "list.csv", [("", email.upper()) for email in VALID] + [("", e) for e in INVALID]
    )
    run_dir = tmp_path / "run"

    result = run_cli(["optout", str(path), "--run-dir", str(run_dir), "--yes"], env)

    assert result.exit_code == 1, result.output  # the malformed rows
    for n in range(len(VALID)):
        assert all(v is False for v in sandbox.store.preferences_of(f"E{n}").values()), VALID[n]
    counts = json.loads((run_dir / "receipt.json").read_text(encoding="utf-8"))["counts"]
    assert (counts["opted-out"], counts["invalid"], counts["not-found"]) == (len(VALID), len(INVALID), 0)
    for email in INVALID:
        assert f"{email!r} is not a valid email address" in result.stderr
