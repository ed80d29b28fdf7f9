"""`make lint`'s dependency audit: run pip-audit; fail on any known vulnerability, but only warn when the
advisory database or the package index cannot be reached (an offline machine must still be able to lint).

    python scripts/audit.py PIP_AUDIT [pip-audit arguments...]
"""

from __future__ import annotations

import re
import subprocess
import sys

FOUND = re.compile(r"Found \d+ known vulnerabilit", re.IGNORECASE)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: audit.py PIP_AUDIT [ARGS...]", file=sys.stderr)
        return 2
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    if done.returncode == 0:
        print(done.stdout.strip() or "pip-audit: no known vulnerabilities")
        return 0
    if FOUND.search(output):
        print(output.strip())
        return 1
    print(output.strip()[-1500:])
    print("pip-audit could not reach the advisory database (offline?): dependencies were not audited")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
