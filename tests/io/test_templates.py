"""`batchgs template` and batchgs.io.templates: what a person gets when they ask for a blank template."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from batchgs.cli.main import cli
from batchgs.entities import registry
from batchgs.entities.spec import Column, ColumnType, CustomFields, EntitySpec, Family
from batchgs.errors import OutputFileError
from batchgs.io import templates
from batchgs.io.entity_docs import FREE_FORM_EXAMPLES, template_columns
from batchgs.io.rows import EXAMPLE_COLUMN, EXAMPLE_MARK, ValidatedRow
from batchgs.io.templates import stale_templates, template_header, workbook_snapshot, write_template
from batchgs.io.validate.file import FrameSource, ValidateOptions, prepare, prepare_source

SPECS = registry.all_specs()

# A throwaway spec for what the real specs lack: a long enum, a length limit, a formula-like example.
TOY = EntitySpec(
    name="toys",
    family=Family.PX,
    description="Toy entity for template tests.",
    key="code",
    modes=("upsert", "update"),
    columns=(
        Column("code", ColumnType.ID, required=True, description="Key", example="007"),
        Column(
            "colour",
            ColumnType.ENUM,
            enum=tuple(f"COLOUR_NUMBER_{i:03d}" for i in range(40)),
            description="Long list",
            example="COLOUR_NUMBER_001",
        ),
        Column("motto", max_length=20, description="Short text", example="=1+1"),
        Column("secret", read_only=True, description="Never in a template"),
    ),
    custom=CustomFields(payload_field="customAttributes", header_prefixes=("custom.",)),
)


def _letter(header: list[str], name: str) -> str:
    return openpyxl.utils.get_column_letter(header.index(name) + 1)


CELL_TYPES: dict[ColumnType, set[Any]] = {
    ColumnType.INTEGER: {pl.Int64, pl.Float64},
    ColumnType.NUMBER: {pl.Int64, pl.Float64},
    ColumnType.BOOLEAN: {pl.Boolean},
    ColumnType.DATETIME: {pl.Datetime("ms"), pl.Date},
    ColumnType.DATE: {pl.Date},
}


@pytest.fixture(scope="module")
def xlsx_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("xlsx")
    return {spec.name: write_template(spec, folder / f"{spec.name}.xlsx") for spec in [*SPECS, TOY]}


@pytest.mark.parametrize("spec", [*SPECS, TOY], ids=lambda s: s.name)
def test_xlsx_header_example_and_frozen_row(spec: EntitySpec, xlsx_files: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(xlsx_files[spec.name])
    assert book.sheetnames[:2] == [spec.name, "Columns"]
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == [*template_header(spec), EXAMPLE_COLUMN]
    assert sheet.cell(row=2, column=len(header)).value == EXAMPLE_MARK  # the example row is marked
    header = header[:-1]
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 2, "exactly one example row"
    expected = [c.name for c in spec.columns if not c.read_only] or [c.name for c in template_columns(spec)]
    assert header[: len(expected)] == expected
    assert not {c.name for c in spec.columns if c.read_only} & set(header)
    if spec.custom is not None:
        custom_header = header[-1]
        assert custom_header.endswith(spec.custom.suffix or "myAttribute")
        assert custom_header.startswith(spec.custom.header_prefixes[:1] or ("",))


def test_custom_attribute_example_headers() -> None:
    assert template_header(registry.get("users"))[-1] == "custom.myAttribute"
    assert template_header(registry.get("accounts"))[-1] == "custom.myAttribute"
    assert template_header(registry.get("events"))[-1] == "attributes.myAttribute"
    assert template_header(registry.get("ctas"))[-1] == "myField__gc"
    assert template_header(registry.get("preferences"))[-1] == "trackEmailAnalytics"


@pytest.mark.parametrize("spec", [*SPECS, TOY], ids=lambda s: s.name)
def test_id_and_date_columns_are_formatted_for_the_whole_column(
    spec: EntitySpec, xlsx_files: dict[str, Path]
) -> None:
    sheet = openpyxl.load_workbook(xlsx_files[spec.name]).worksheets[0]
    header = [c.value for c in sheet[1]]
    wanted = {ColumnType.ID: "@", ColumnType.DATETIME: "yyyy-mm-dd hh:mm:ss", ColumnType.DATE: "yyyy-mm-dd"}
    checked = 0
    for col in template_columns(spec):
        letter = _letter(header, col.name)
        if col.type in wanted or col.name == spec.key:
            fmt = wanted.get(col.type, "@")
            assert sheet.column_dimensions[letter].number_format == fmt, col.name
            assert sheet[f"{letter}2"].number_format == fmt, col.name
            checked += 1
        else:
            assert sheet.column_dimensions[letter].number_format == "General", col.name
    if spec.key is not None:
        assert checked


def test_ids_survive_a_round_trip_through_the_xlsx_reader(xlsx_files: dict[str, Path]) -> None:
    """Leading zeros and long digit strings stay text when calamine (the import reader) reads the file."""
    toy = pl.read_excel(xlsx_files["toys"], sheet_name="toys", engine="calamine")
    assert toy.schema["code"] == pl.String
    assert toy["code"].to_list() == ["007"]
    accounts = pl.read_excel(xlsx_files["accounts"], sheet_name="accounts", engine="calamine")
    assert accounts["dunsNumber"].to_list() == ["150483782"]
    assert accounts["location.postalCode"].to_list() == ["75001"]


@pytest.mark.parametrize("spec", [*SPECS, TOY], ids=lambda s: s.name)
def test_dropdowns_for_every_enum_and_boolean(spec: EntitySpec, xlsx_files: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(xlsx_files[spec.name])
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    by_range = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    for col in template_columns(spec):
        letter = _letter(header, col.name)
        validation = by_range.get(f"{letter}2:{letter}1048576")
        if col.type not in (ColumnType.ENUM, ColumnType.BOOLEAN):
            assert validation is None or validation.type != "list", col.name
            continue
        assert validation is not None, f"{col.name} has a dropdown"
        assert validation.type == "list" and validation.allow_blank and validation.showErrorMessage
        formula = validation.formula1
        if formula.startswith('"'):
            choices = formula.strip('"').split(",")
        else:  # a range on the hidden Lists sheet
            sheet_name, cells = formula.split("!")
            lists = book[sheet_name.strip("'")]
            assert lists.sheet_state == "hidden"
            choices = [c.value for row in lists[cells.replace("$", "")] for c in row]
        assert choices == (list(col.enum) if col.type is ColumnType.ENUM else ["TRUE", "FALSE"])


def test_long_enums_go_to_a_hidden_sheet_and_length_limits_are_checked(xlsx_files: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(xlsx_files["toys"])
    assert book.sheetnames == ["toys", "Columns", "Lists"]
    validations = {str(v.sqref): v for v in book["toys"].data_validations.dataValidation}
    assert validations["B2:B1048576"].formula1 == "'Lists'!$A$2:$A$41"
    motto = validations["C2:C1048576"]
    assert (motto.type, motto.operator, motto.formula1) == ("textLength", "lessThanOrEqual", "20")


@pytest.mark.parametrize("spec", [*SPECS, TOY], ids=lambda s: s.name)
def test_columns_sheet_documents_every_column(spec: EntitySpec, xlsx_files: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(xlsx_files[spec.name])
    rows = list(book["Columns"].iter_rows(values_only=True))
    assert rows[0] == ("column", "type", "required", "allowed values", "limits", "description", "example")
    documented = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == template_header(spec)
    for col in template_columns(spec):
        _, _, required, allowed, _, description, example = documented[col.name]
        assert description, col.name
        assert (example or "") == col.example
        if col.type is ColumnType.ENUM:
            assert allowed == ", ".join(col.enum)
        if col.name == spec.key and col.required:
            assert required == "always"
        elif col.required and "update" in spec.modes:
            assert required == "on create"
        elif not col.required and col.name != spec.key:
            assert required == "no"


def test_columns_sheet_details(xlsx_files: dict[str, Path]) -> None:
    users = {row[0]: row for row in _doc_rows(xlsx_files["users"])}
    assert users["identifyId"][1:3] == ("id", "always")
    assert users["propertyKeys"][2] == "on create"
    assert users["gender"][3] == "MALE, FEMALE, OTHER, EMPTY_GENDER"
    events = {row[0]: row for row in _doc_rows(xlsx_files["events"])}
    assert events["userType"][2] == "always (USER when empty)"
    assert events["eventName"][4] == "at most 2,000 characters"
    assert events["attributes.myAttribute"][4] == "at most 50 per row; names at most 1,024 characters"
    ctas = {row[0]: row for row in _doc_rows(xlsx_files["ctas"])}
    assert ctas["Gsid"][2] == "on update"
    assert "Company Gsid" in ctas["CompanyId"][5]


def _doc_rows(path: Path) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path)["Columns"].iter_rows(min_row=2, values_only=True))


def _validated(spec: EntitySpec, frame: pl.DataFrame) -> list[ValidatedRow]:
    """The example row as data: its mark cleared and the placeholder product key replaced."""
    frame = frame.drop(EXAMPLE_COLUMN)
    if spec.product_key_field in frame.columns:
        frame = frame.with_columns(pl.lit("AP-1").alias(str(spec.product_key_field)))
    validation = prepare_source(FrameSource(frame), spec, ValidateOptions(), path=f"{spec.name} template")
    return [row for batch in validation.batches() for row in batch]


def _read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False, encoding="utf8")


def _unneutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Undo safe_cells.neutralise, as a person retyping the cell would (see the test below)."""
    return frame.with_columns(pl.all().str.replace(r"^'([=+\-@\t\r])", "$1"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_example_row_passes_validation_in_both_formats(
    spec: EntitySpec, xlsx_files: dict[str, Path], tmp_path: Path
) -> None:
    """The example row is valid for its entity, and the typed .xlsx cells (dates, numbers, booleans, ids)
    send exactly what the spec's example texts in the .csv send."""
    frame = pl.read_excel(xlsx_files[spec.name], sheet_name=spec.name, engine="calamine")
    from_xlsx = _validated(spec, frame)
    for col in template_columns(spec):
        if col.example:  # typed cells, as a person typing into Excel would make them
            assert frame.schema[col.name] in CELL_TYPES.get(col.type, {pl.String}), col.name
    from_csv = _validated(spec, _unneutralise(_read_csv(write_template(spec, tmp_path / "t.csv"))))
    assert [(r.row, r.issues) for r in from_xlsx] == [(2, [])]
    assert [(r.row, r.issues) for r in from_csv] == [(2, [])]
    assert from_xlsx[0].payload == from_csv[0].payload
    payload = from_xlsx[0].payload
    assert payload is not None
    for col in template_columns(spec):
        if col.example and col.name in [c.name for c in (*spec.columns, *FREE_FORM_EXAMPLES)]:
            value: Any = payload
            for part in col.name.split("."):
                value = value[part]
            assert value is not None, f"{col.name} is sent"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_the_example_row_is_skipped_and_its_placeholder_key_refused(suffix: str, tmp_path: Path) -> None:
    spec = registry.get("users")
    path = write_template(spec, tmp_path / f"users{suffix}")
    with prepare(path, spec, ValidateOptions(product_key="AP-REAL-1")) as validation:
        assert [row for batch in validation.batches() for row in batch] == []  # never sent
        assert validation.row_count() == 0
        assert any("_example" in notice and "skipped" in notice for notice in validation.notices)
    unmarked = (
        pl.read_excel(path, engine="calamine") if suffix == ".xlsx" else _unneutralise(_read_csv(path))
    ).drop(EXAMPLE_COLUMN)
    validation = prepare_source(FrameSource(unmarked), spec, ValidateOptions(product_key="AP-REAL-1"))
    issues = [(i.row, i.column, i.code, i.message) for i in validation.issues_only()]
    assert issues == [
        (
            2,
            "propertyKeys",
            "placeholder-value",
            "'AP-XXXXXXXXXX-2' is the placeholder of the documentation and templates, not a product key: "
            "write your product key (Gainsight PX > Administration > Products), or leave the cell empty "
            "and pass --product-key",
        )
    ]


def test_example_payload_of_users_is_exact(xlsx_files: dict[str, Path]) -> None:
    frame = pl.read_excel(xlsx_files["users"], sheet_name="users", engine="calamine")
    payload = _validated(registry.get("users"), frame)[0].payload
    assert payload is not None
    assert payload["signUpDate"] == 1_711_870_200_000  # 2024-03-31T09:30:00+02:00
    assert payload["firstVisitDate"] == 1_711_929_600_000  # 2024-04-01 UTC
    assert payload["phone"] == "+33 1 23 45 67 89"
    assert payload["location"]["postalCode"] == "75001"
    assert payload["globalUnsubscribe"] is False
    assert payload["customAttributes"] == {"myAttribute": "example"}


def test_neutralised_csv_example_is_sent_without_its_quote(tmp_path: Path) -> None:
    spec = registry.get("users")
    rows = _validated(spec, _read_csv(write_template(spec, tmp_path / "users.csv")))  # mark cleared
    assert rows[0].payload is not None and rows[0].payload["phone"] == "+33 1 23 45 67 89"


def test_csv_is_utf8_with_header_and_neutralised_example(tmp_path: Path) -> None:
    path = write_template(TOY, tmp_path / "toys.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads it as UTF-8
    assert (
        raw.decode("utf-8-sig") == "code,colour,motto,custom.myAttribute,_example\r\n"
        f"007,COLOUR_NUMBER_001,'=1+1,example,{EXAMPLE_MARK}\r\n"
    )
    users = write_template(registry.get("users"), tmp_path / "users.csv").read_text(encoding="utf-8-sig")
    assert ",'+33 1 23 45 67 89," in users and "Île-de-France" in users


def test_tsv_uses_tabs(tmp_path: Path) -> None:
    text = write_template(TOY, tmp_path / "toys.TSV").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "code\tcolour\tmotto\tcustom.myAttribute\t_example"


def test_xlsx_is_reproducible(tmp_path: Path) -> None:
    first = write_template(registry.get("users"), tmp_path / "a.xlsx").read_bytes()
    second = write_template(registry.get("users"), tmp_path / "b.xlsx").read_bytes()
    assert first == second
    assert openpyxl.load_workbook(tmp_path / "a.xlsx").properties.modified == datetime(2024, 1, 1)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "users.xlsx"
    target.write_bytes(b"precious")
    with pytest.raises(OutputFileError) as caught:
        write_template(registry.get("users"), target)
    assert caught.value.message == f"{target}: file exists"
    assert caught.value.hint is not None and "--force" in caught.value.hint
    assert target.read_bytes() == b"precious"
    write_template(registry.get("users"), target, force=True)
    assert openpyxl.load_workbook(target).sheetnames == ["users", "Columns"]
    assert [p.name for p in tmp_path.iterdir()] == ["users.xlsx"], "no temporary file left behind"


@pytest.mark.parametrize("name", ["users.xls", "users.ods", "users", "users.parquet"])
def test_unknown_suffix_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputFileError, match="cannot write a template as"):
        write_template(registry.get("users"), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match="does not exist"):
        write_template(registry.get("users"), tmp_path / "nope" / "users.csv")


def test_stale_template_detection_notices_changes(tmp_path: Path) -> None:
    """The sync check of tests/test_docs_sync.py would catch a drifted, missing or extra template."""
    assert templates.main([str(tmp_path)]) == 0
    assert stale_templates(tmp_path) == []
    book = openpyxl.load_workbook(tmp_path / "users.xlsx")
    book["users"]["C2"] = "LEAD"
    book.save(tmp_path / "users.xlsx")
    (tmp_path / "events.csv").write_text("identifyId\n", encoding="utf-8")
    (tmp_path / "ctas.xlsx").unlink()
    shutil.copy(tmp_path / "accounts.csv", tmp_path / "widgets.csv")
    assert stale_templates(tmp_path) == [
        "ctas.xlsx is missing",
        "widgets.csv has no entity",
        "events.csv differs from the entity spec",
        "users.xlsx differs from the entity spec",
    ]


def test_snapshot_sees_formats_and_validations(xlsx_files: dict[str, Path], tmp_path: Path) -> None:
    original = workbook_snapshot(xlsx_files["users"])
    book = openpyxl.load_workbook(xlsx_files["users"])
    book["users"].column_dimensions["A"].number_format = "General"
    book.save(tmp_path / "a.xlsx")
    assert workbook_snapshot(tmp_path / "a.xlsx") != original
    book = openpyxl.load_workbook(xlsx_files["users"])
    book["users"].data_validations.dataValidation.pop()
    book.save(tmp_path / "b.xlsx")
    assert workbook_snapshot(tmp_path / "b.xlsx") != original


# --- the command ----------------------------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["template", *args])


def test_cli_writes_xlsx_and_csv(tmp_path: Path) -> None:
    result = _run("users", "-o", str(tmp_path / "u.xlsx"))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote {tmp_path / 'u.xlsx'} (30 columns; row 2 is an example, marked in column _example: "
        "batchgs skips it, replace it with your data)\n"
    )
    assert result.stderr == (
        "Coming from px-data-loader? Your files and config.json work as they are: "
        "batchgs import users FILE --map config.json\n"
    )
    assert openpyxl.load_workbook(tmp_path / "u.xlsx").sheetnames == ["users", "Columns"]
    result = _run("cs_events", "--output", str(tmp_path / "e.csv"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e.csv").read_text(encoding="utf-8-sig").startswith("userEmail,account.name,")


def test_cli_unknown_entity_exits_2_with_the_known_names(tmp_path: Path) -> None:
    result = _run("widgets", "-o", str(tmp_path / "w.csv"))
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: unknown entity 'widgets'\n"
        "Hint: known entities: users, accounts, events, preferences, ctas, cs-events\n"
    )
    assert not (tmp_path / "w.csv").exists()


def test_cli_existing_file_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_text("mine", encoding="utf-8")
    result = _run("accounts", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {target}: file exists\nHint: use --force to replace it\n"
    assert target.read_text(encoding="utf-8") == "mine"
    assert _run("accounts", "-o", str(target), "--force").exit_code == 0
    assert target.read_text(encoding="utf-8-sig").startswith("id,name,propertyKeys,")


def test_cli_bad_suffix_and_missing_output(tmp_path: Path) -> None:
    result = _run("users", "-o", str(tmp_path / "u.xls"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {tmp_path / 'u.xls'}: cannot write a template as '.xls'\n")
    result = _run("users")
    assert result.exit_code == 2
    assert "Missing option '-o' / '--output'" in result.stderr
