"""Data at rest: run folders 0700 and every file in them 0600 whatever the umask (after a run, a pause
and a resume), the quota ledger private, and `--redact` keeping emails and names out of the reports."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchgs.reports.redact import pseudonym
from tests.cli.cli_helpers import run_cli
from tests.security.sec_helpers import PX_KEY, PX_READONLY_KEY, modes, read_csv, write_table

HEADERS = ["identifyId", "email", "firstName", "lastName", "signUpDate", "custom.plan"]
FIRST_NAMES = ["Zebulon", "Philippa", "Octavius", "Wilhelmina"]
EMAIL = re.compile(rb"[A-Za-z0-9._%+()\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: without explicit modes every file would be world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _rows(n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        email = f"person{i}@example.com"
        row = [f"U{i:04d}", email, FIRST_NAMES[i % 4], f"Surname{i:04d}x", "2024-05-01T10:00:00Z", "pro"]
        if i % 10 == 3:
            row[0] = email  # an email used as the id: the key column of success.csv
        if i % 7 == 2:
            row[4] = f"not a date for {email}"  # invalid locally, the message quotes the cell
        elif i % 11 == 5:
            row[1] = f"bad(mail){i}@example.com"  # not an email: refused locally, the message quotes it
        rows.append(row)
    return rows


def _env(sandbox_url: str, state: Path, key: str = PX_KEY) -> dict[str, str]:
    return {
        "GAINSIGHT_PX_API_KEY": key,
        "GAINSIGHT_PX_BASE_URL": sandbox_url,
        "GAINSIGHT_PX_PRODUCT_KEY": "AP-TEST-1",
        "BATCHGS_STATE_DIR": str(state),
    }


def _assert_private(root: Path) -> None:
    found = modes(root)
    assert found, root
    wrong = {
        path: (kind, oct(mode))
        for path, (kind, mode) in found.items()
        if mode != (0o700 if kind == "dir" else 0o600)
    }
    assert wrong == {}, wrong


def test_run_folder_and_files_are_private_after_a_pause_and_a_resume(
    sandbox_factory, tmp_path: Path, open_umask: None
) -> None:
    sandbox = sandbox_factory(api_key=PX_KEY, read_only_keys=(PX_READONLY_KEY,), rate_limit=0)
    users = write_table(tmp_path / "users.xlsx", HEADERS, _rows(40))
    run_dir = tmp_path / "runs" / "users-1"
    state = tmp_path / "state"
    paused = run_cli(
        ["import", "users", str(users), "--run-dir", str(run_dir), "-q"],
        _env(sandbox.url, state, PX_READONLY_KEY),
    )
    assert paused.exit_code == 4, paused.output
    _assert_private(run_dir)
    resumed = run_cli(["resume", str(run_dir), "-q"], _env(sandbox.url, state))
    assert resumed.exit_code == 1, resumed.output
    assert {"errors.csv", "errors.xlsx", "success.csv", "summary.json"} <= {p.name for p in run_dir.iterdir()}
    _assert_private(run_dir)
    _assert_private(state)  # the quota ledger and its folder


def test_validate_report_folder_is_private(tmp_path: Path, open_umask: None) -> None:
    users = write_table(tmp_path / "users.csv", HEADERS, _rows(12))
    folder = tmp_path / "validate-run"
    result = run_cli(
        ["validate", "users", str(users), "--run-dir", str(folder), "--offline", "--product-key", "AP-1"], {}
    )
    assert result.exit_code == 1, result.output
    _assert_private(folder)


def _personal_data(rows: list[list[str]]) -> set[bytes]:
    found = set()
    for row in rows:
        found |= {row[2].encode(), row[3].encode()}
        found |= {m.group(0) for m in EMAIL.finditer(" ".join(row).encode())}
    return found


def _report_bytes(run_dir: Path) -> dict[str, bytes]:
    blobs = {name: (run_dir / name).read_bytes() for name in ("errors.csv", "success.csv")}
    with zipfile.ZipFile(run_dir / "errors.xlsx") as book:
        blobs |= {f"errors.xlsx!{n}": book.read(n) for n in book.namelist()}
    return blobs


def _sandbox_knowing(sandbox_factory, uids: list[str]):  # type: ignore[no-untyped-def]
    """A sandbox where `uids` already exist, so that `--mode insert` has the API reject them."""
    sandbox = sandbox_factory(api_key=PX_KEY, rate_limit=0)
    for uid in uids:
        sandbox.store.users[uid] = {"identifyId": uid, "propertyKeys": ["AP-TEST-1"]}
    return sandbox


def test_redact_keeps_emails_and_names_out_of_errors_and_success(sandbox_factory, tmp_path: Path) -> None:
    rows = _rows(40)
    existing = [row[0] for i, row in enumerate(rows) if i % 13 == 6]  # accepted locally, refused by the API
    users = write_table(tmp_path / "users.xlsx", HEADERS, rows)
    plain_dir, redacted_dir = tmp_path / "plain", tmp_path / "redacted"
    args = ["import", "users", str(users), "--mode", "insert", "-q", "--run-dir"]
    plain_env = _env(_sandbox_knowing(sandbox_factory, existing).url, tmp_path / "state")
    plain = run_cli([*args, str(plain_dir)], plain_env)
    env = _env(_sandbox_knowing(sandbox_factory, existing).url, tmp_path / "state")
    redacted = run_cli([*args, str(redacted_dir), "--redact"], env)
    assert plain.exit_code == redacted.exit_code == 1, redacted.output
    pii = _personal_data(rows)
    # without --redact the reports do hold the personal data (the check below is not vacuous)
    plain_text = b"".join(_report_bytes(plain_dir).values())
    assert b"bad(mail)5@example.com" in plain_text and b"Zebulon" in plain_text
    for name, blob in _report_bytes(redacted_dir).items():
        leaked = sorted(p.decode() for p in pii if p in blob)
        assert leaked == [], (name, leaked[:5])
        assert not EMAIL.search(blob), (name, EMAIL.search(blob))
    errors = read_csv(redacted_dir / "errors.csv")
    success = read_csv(redacted_dir / "success.csv")
    assert {r["_code"] for r in errors} >= {"api-rejected", "bad-date", "bad-email"}, {
        r["_code"] for r in errors
    }
    by_row = {int(r["_row"]): r for r in errors}
    bad_mail_row = next(i for i, r in enumerate(rows) if r[1].startswith("bad(mail)")) + 2
    assert by_row[bad_mail_row]["email"] == pseudonym(rows[bad_mail_row - 2][1])
    assert by_row[bad_mail_row]["firstName"] == pseudonym(rows[bad_mail_row - 2][2])
    email_ids = [r for r in success if r["identifyId"].startswith("sha256:")]
    assert email_ids, "ids that are emails are pseudonymised in success.csv too"
    assert all(re.fullmatch(r"sha256:[0-9a-f]{12}|U\d{4}", r["identifyId"]) for r in success)


def test_redact_also_hides_the_rows_own_values_quoted_in_a_message(tmp_path: Path) -> None:
    """A server may quote a value back in its message in a shape no email pattern recognises."""
    from batchgs.reports.row_reports import ErrorReport

    headers = ["identifyId", "email", "firstName", "lastName"]
    cells = {"identifyId": "U1", "email": "bad(mail)@example.com", "firstName": "Zebulon", "lastName": "Q"}
    with ErrorReport(tmp_path, headers, redact=True) as report:
        report.add(2, cells, "api-rejected", "email 'bad(mail)@example.com' of Zebulon is invalid", 400)
    text = (tmp_path / "errors.csv").read_text(encoding="utf-8")
    assert "bad(mail)" not in text and "Zebulon" not in text, text
    assert pseudonym("bad(mail)@example.com") in text and "U1" in text
