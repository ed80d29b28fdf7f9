"""The command line itself: no option takes a credential (it would show in `ps` and shell history),
and no command replaces a file the user already has without `--force`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from batchgs.cli.main import cli
from tests.cli.cli_helpers import run_cli
from tests.security.sec_helpers import PX_KEY, error_lines, write_table

CREDENTIAL_WORDS = ("key", "token", "secret", "password", "passwd", "credential", "auth", "cookie")
# Named like a credential, but not one: the PX product key (AP-...) is public, it ships in every page's
# tracking snippet; the sandbox's options name the fake keys the LOCAL EMULATOR accepts, so tests and
# demos can play a wrong or read-only key — they never unlock a real Gainsight tenant.
NOT_CREDENTIALS = {
    "--product-key",
    "sandbox --api-key",
    "sandbox --read-only-key",
    "sandbox --cs-access-key",
    "sandbox --cs-shared-secret",
}


def _params(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Parameter]]:
    for param in command.params:
        yield " ".join(path), param
    if isinstance(command, click.Group):  # commands load lazily: ask the group, as click's help does
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _params(sub, (*path, name))


def test_no_option_or_argument_accepts_a_credential() -> None:
    found = []
    for where, param in _params(cli):
        names = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", []), param.name or ""]
        for name in names:
            if any(word in name.lower().replace("_", "-") for word in CREDENTIAL_WORDS):
                option = next((n for n in names if n.startswith("--")), name)
                label = option if option == "--product-key" else f"{where} {option}".strip()
                if label not in NOT_CREDENTIALS:
                    found.append(label)
                break
        assert not (isinstance(param, click.Option) and param.envvar), f"{where} {param.name}: envvar"
    assert found == [], f"options that would take a credential on the command line: {found}"
    assert len(list(_params(cli))) > 50, "the walk saw the commands"


def test_the_help_says_where_the_key_comes_from() -> None:
    result = run_cli(["--help"], {})
    assert "GAINSIGHT_PX_API_KEY" in result.stdout and "never from an option" in result.stdout


# -- no overwrite without --force ----------------------------------------------------------------
def _keep(path: Path) -> Path:
    path.write_text("the user's own file\n", encoding="utf-8")
    return path


def _refused(result, path: Path) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "exists" in errors[0] and "--force" in result.stderr, result.stderr
    assert path.read_text(encoding="utf-8") == "the user's own file\n"


def test_template_needs_force_to_replace_a_file(tmp_path: Path) -> None:
    for suffix in (".csv", ".xlsx"):
        out = _keep(tmp_path / f"t{suffix}")
        _refused(run_cli(["template", "users", "-o", str(out)], {}), out)
        assert run_cli(["template", "users", "-o", str(out), "--force"], {}).exit_code == 0
        assert out.read_bytes() != b"the user's own file\n"


def test_validate_report_needs_force_to_replace_a_file(tmp_path: Path) -> None:
    users = write_table(tmp_path / "u.csv", ["identifyId", "email"], [["", "not-an-email"]])
    base = ["validate", "users", str(users), "--offline", "--product-key", "AP-1", "-q"]
    report = _keep(tmp_path / "report.csv")
    _refused(run_cli([*base, "--report", str(report)], {}), report)
    book = _keep(tmp_path / "book.xlsx")  # --report X.xlsx writes X.csv and X.xlsx
    _refused(run_cli([*base, "--report", str(book)], {}), book)
    twin = _keep(tmp_path / "other.csv")
    _refused(run_cli([*base, "--report", str(tmp_path / "other.xlsx")], {}), twin)
    replaced = run_cli([*base, "--report", str(report), "--force"], {})
    assert replaced.exit_code == 1 and "_row" in report.read_text(encoding="utf-8")


def test_export_needs_force_to_replace_a_file_and_sends_nothing_first(sandbox, tmp_path: Path) -> None:
    env = {
        "GAINSIGHT_PX_API_KEY": sandbox.api_key,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    for suffix in (".csv", ".xlsx", ".parquet", ".jsonl"):
        out = _keep(tmp_path / f"users{suffix}")
        _refused(
            run_cli(["export", "users", "-o", str(out), "--run-dir", str(tmp_path / suffix[1:])], env), out
        )
    assert sandbox.stats()["requests_total"] == 0
    out = tmp_path / "users.csv"
    forced = run_cli(
        ["export", "users", "-o", str(out), "--force", "--run-dir", str(tmp_path / "f"), "-q"], env
    )
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8") != "the user's own file\n"


def test_a_run_never_reuses_a_folder_that_holds_files(sandbox, tmp_path: Path) -> None:
    env = {
        "GAINSIGHT_PX_API_KEY": PX_KEY,
        "GAINSIGHT_PX_BASE_URL": sandbox.url,
        "GAINSIGHT_PX_PRODUCT_KEY": "AP-1",
        "BATCHGS_STATE_DIR": str(tmp_path / "state"),
    }
    users = write_table(tmp_path / "u.csv", ["identifyId", "email"], [["U1", "a@example.com"]])
    folder = tmp_path / "existing"
    folder.mkdir()
    kept = _keep(folder / "notes.txt")
    for args in (
        ["import", "users", str(users), "--run-dir", str(folder)],
        ["optout", str(users), "--run-dir", str(folder), "--yes"],
        ["export", "users", "-o", str(tmp_path / "x.csv"), "--run-dir", str(folder)],
    ):
        result = run_cli(args, env)
        assert result.exit_code == 2, (args, result.output)
        assert len(error_lines(result.stderr)) == 1 and "not empty" in result.stderr, result.stderr
        assert kept.read_text(encoding="utf-8") == "the user's own file\n"
        assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_security_md_documents_every_knob() -> None:
    from batchgs.cli.px_import_run import PRODUCTION_ENV
    from batchgs.config import SECRET_ENV_VARS
    from batchgs.transport.client import MESSAGE_MAX

    text = (Path(__file__).resolve().parents[2] / "SECURITY.md").read_text(encoding="utf-8")
    for needle in (
        *SECRET_ENV_VARS,
        PRODUCTION_ENV,
        "BATCHGS_CA_BUNDLE",
        "ca_bundle",
        "api_key_command",
        "production = true",
        "--redact",
        "batchgs clean --older-than 30d",
        "0700",
        "0600",
        "--force",
        "--raw",
        "pip-audit",
        f"{MESSAGE_MAX} characters",
        "Reporting a problem",
    ):
        assert needle in text, needle
