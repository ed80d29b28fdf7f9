"""Supply chain: every dependency has a lower bound, CI installs from pinned constraints, and
`make lint` audits them with pip-audit without breaking the build when the advisory service is
out of reach."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)", line)
        assert match, f"constraints.txt: {line!r} is not pinned with =="
        pins[_normal(match.group(1))] = match.group(2)
    return pins


def _requirements() -> list[str]:
    project = _pyproject()["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["dev"]]


def test_every_dependency_has_a_lower_bound() -> None:
    for requirement in _requirements():
        spec = requirement.split(";", 1)[0]
        assert ">=" in spec or "==" in spec or "~=" in spec, f"{requirement}: no lower bound"


def test_constraints_pin_every_dependency_at_a_version_the_bounds_allow() -> None:
    from packaging.specifiers import SpecifierSet

    pins = _constraints()
    for requirement in _requirements():
        name = _normal(_NAME.match(requirement).group(1))  # type: ignore[union-attr]
        assert name in pins, f"{name} is not pinned in constraints.txt"
        bounds = SpecifierSet(requirement[len(_NAME.match(requirement).group(1)) :].split(";")[0].strip())  # type: ignore[union-attr]
        assert pins[name] in bounds, f"{name}=={pins[name]} is outside {bounds}"


def test_install_uses_the_constraints_and_lint_runs_pip_audit_on_them() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-c constraints\.txt", makefile)
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "pip-audit" in lint and "-r constraints.txt" in lint and "--strict" in lint


def _audit_line() -> str:
    lint = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nlint:", 1)[1].split("\n\n", 1)[0]
    line = next(x.strip() for x in lint.splitlines() if "pip-audit" in x)
    return line.replace("$(BIN)", str(Path(sys.executable).parent)).replace("$(PY)", sys.executable)


@pytest.mark.slow
def test_pip_audit_degrades_cleanly_offline(tmp_path: Path) -> None:
    """The exact recipe line of `make lint`, with no package index and no network: it says so and
    does not fail the build."""
    if not (Path(sys.executable).parent / "pip-audit").exists():
        pytest.skip("pip-audit is not installed")
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "no_proxy": "",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        ["sh", "-c", _audit_line()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pip-audit could not reach the advisory database" in done.stdout


def test_audit_fails_on_a_known_vulnerability_and_only_warns_when_offline(tmp_path: Path) -> None:
    """A finding must fail `make lint`; only an unreachable advisory service is forgiven."""
    fake = tmp_path / "fake-audit"
    fake.write_text("#!/bin/sh\necho 'Found 2 known vulnerabilities in 1 package'\nexit 1\n")
    fake.chmod(0o755)
    found = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), str(fake)], capture_output=True, text=True
    )
    assert found.returncode == 1 and "Found 2 known vulnerabilities" in found.stdout
    fake.write_text("#!/bin/sh\necho 'ConnectionError: Max retries exceeded' >&2\nexit 1\n")
    offline = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), str(fake)], capture_output=True, text=True
    )
    assert offline.returncode == 0 and "could not reach the advisory database" in offline.stdout
