"""`make demo`: start the sandbox on a free loopback port, import the samples, export them back,
opt the people of samples/optout.csv out.

Runs with no Gainsight account: the sandbox plays Gainsight PX and CS on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
OUT = ROOT / "demo-out"
BATCHGS = [sys.executable, "-m", "batchgs"]


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*BATCHGS, "sandbox", "--port", "0", "--api-key", "demo-key", "--seed-users", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    sys.exit("demo: the sandbox did not start")


def run(step: str, args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> None:
    print(f"\n$ batchgs {' '.join(args)}", flush=True)
    code = subprocess.call([*BATCHGS, *args], env=env, cwd=ROOT)
    if code not in ok:
        sys.exit(f"demo: step '{step}' failed with exit code {code}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs = OUT / f"runs-{stamp}"
    sandbox, url = start_sandbox()
    print(f"sandbox: {url}")
    env = {
        **os.environ,
        "GAINSIGHT_PX_API_KEY": "demo-key",
        "GAINSIGHT_PX_BASE_URL": url,
        "GAINSIGHT_PX_PRODUCT_KEY": "AP-SANDBOX-1",
        "BATCHGS_STATE_DIR": str(OUT / "state"),
    }
    try:
        run("validate", ["validate", "users", "samples/users.xlsx"], env)
        for entity, file in (
            ("accounts", "accounts.csv"),
            ("users", "users.xlsx"),
            ("events", "events.csv"),
            ("preferences", "preferences.csv"),
        ):
            run(
                f"import {entity}",
                ["import", entity, f"samples/{file}", "--run-dir", str(runs / entity), "--yes"],
                env,
            )
        for entity, suffix in (("users", "xlsx"), ("accounts", "csv"), ("events", "parquet")):
            target = OUT / f"{entity}-{stamp}.{suffix}"
            extra = ["--since", "2026-01-01"] if entity == "events" else []
            run(
                f"export {entity}",
                ["export", entity, "-o", str(target), "--run-dir", str(runs / f"export-{entity}"), *extra],
                env,
            )
        # The sample list holds two people who do not exist, one bad email, a person listed twice and
        # two emails that each belong to two PX users (one person, two records) on purpose: the run
        # opts everyone else out, lists the missing in pending.csv and exits 1 (see the receipt).
        run(
            "optout",
            ["optout", "samples/optout.csv", "--denylist", "--run-dir", str(runs / "optout"), "--yes"],
            env,
            ok=(0, 1),
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    print(f"\nDone. Run folders (reports, summaries): {runs}")
    print(f"Opt-out receipt: {runs / 'optout' / 'receipt.csv'} (and receipt.json, pending.csv)")
    print(f"Exported files: {', '.join(str(p) for p in sorted(OUT.glob(f'*-{stamp}.*')))}")


if __name__ == "__main__":
    main()
