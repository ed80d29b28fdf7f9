"""Issue 22.2: `validate` and the sandbox apply one definition of a valid email address
(batchgs.entities.email), so a file that validates is not refused at send for its emails.

The same edge cases go to both — through `batchgs validate` on a real CSV file, and as `POST /v1/users`
to a running sandbox — and each verdict must match the other and the documented definition.
"""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.cli.cli_helpers import cli_env, run_cli

VALID = [
    "Łukasz.smith3@example.com",  # unicode local part (RFC 6531)
    "josé+news@example.com",
    "ana@bücher.example",  # IDN domain
    "用户@例子.广告",
    "first.last@xn--bcher-kva.example",  # the same domain, already encoded
    "a+tag@example.co.uk",  # plus-tag
    "o'brien@example.ie",
    '"john smith"@example.com',  # quoted local part
    '"a@b"@example.com',
    "UPPER@EXAMPLE.COM",
    "x@sub.domain.example",
    "a@b.co",
    "user@123.example",
    "l" * 64 + "@example.com",  # the longest local part
]
INVALID = [
    "trailing.dot@example.com.",  # trailing dot
    "plainaddress",
    "@example.com",
    "a@",
    "a@b",  # no dot in the domain
    ".lead@example.com",
    "trail.@example.com",
    "dou..ble@example.com",
    "a b@example.com",
    "a@exa mple.com",
    "a@-example.com",
    "a@example-.com",
    "a@@example.com",
    "a@example..com",
    '"unclosed@example.com',
    "a@[127.0.0.1]",
    "l" * 65 + "@example.com",  # local part over 64
    "a@" + "d" * 64 + ".example",  # label over 63
]


def validate_verdicts(tmp_path: Path, sandbox: Any) -> dict[str, bool]:
    source = tmp_path / "emails.csv"
    addresses = VALID + INVALID
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["identifyId", "email"])
        writer.writerows([f"U{n}", address] for n, address in enumerate(addresses))
    result = run_cli(
        ["validate", "users", str(source), "--run-dir", str(tmp_path / "v"), "--json", "--offline"],
        cli_env(sandbox, tmp_path / "state"),
    )
    assert result.exit_code in (0, 1), result.output
    with (tmp_path / "v" / "errors.csv").open(encoding="utf-8", newline="") as handle:
        # by row: the report writes `@example.com` as `'@example.com` (formula protection)
        refused = {
            addresses[int(line["_row"]) - 2]
            for line in csv.DictReader(handle)
            if line["_code"] == "bad-email"
        }
    assert json.loads(result.stdout)["rows_total"] == len(addresses)
    return {address: address not in refused for address in addresses}


def sandbox_verdict(sandbox: Any, n: int, address: str) -> bool:
    body = json.dumps({"identifyId": f"S{n}", "email": address, "propertyKeys": ["AP-1"]}).encode()
    request = urllib.request.Request(
        f"{sandbox.url}/v1/users",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-APTRINSIC-API-KEY": sandbox.api_key},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return bool(answer.status == 201)
    except urllib.error.HTTPError as refused:
        text = refused.read().decode()
        assert refused.code == 400 and "must be a well-formed email address" in text, text
        return False


def test_validate_and_the_sandbox_agree_on_every_edge_case(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    by_validate = validate_verdicts(tmp_path, sandbox)
    by_sandbox = {address: sandbox_verdict(sandbox, n, address) for n, address in enumerate(VALID + INVALID)}
    assert by_validate == by_sandbox
    assert by_validate == {**dict.fromkeys(VALID, True), **dict.fromkeys(INVALID, False)}
