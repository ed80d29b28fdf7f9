"""templates/ and docs/entities.md are generated from the entity specs and must not drift from them."""

from __future__ import annotations

from pathlib import Path

from batchgs.entities import registry
from batchgs.io import entity_docs
from batchgs.io.entity_docs import column_docs, render_entities_markdown
from batchgs.io.templates import stale_templates

ROOT = Path(__file__).resolve().parents[1]
FIX = (
    "run `make templates` (python -m batchgs.io.templates templates; "
    "python -m batchgs.io.entity_docs docs/entities.md)"
)


def test_templates_folder_matches_the_specs() -> None:
    problems = stale_templates(ROOT / "templates")
    assert not problems, (
        "templates/ is out of date with the entity specs: " + "; ".join(problems) + f"; {FIX}"
    )


def test_entities_markdown_matches_the_specs() -> None:
    path = ROOT / "docs" / "entities.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == render_entities_markdown(), (
        f"docs/entities.md is out of date with the entity specs; {FIX}"
    )


def test_entities_markdown_covers_every_column_of_every_entity() -> None:
    """Guards the renderer itself: a column or entity missing from the generated page is a bug."""
    text = render_entities_markdown()
    for spec in registry.all_specs():
        section = text.split(f"\n## {spec.name}\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == [
            d.name for d in column_docs(spec, include_read_only=True)
        ]
        for column in spec.columns:
            assert f"| `{column.name}` |" in section, f"{spec.name}.{column.name} is documented"
            if column.enum:
                assert ", ".join(column.enum) in section


def test_entity_docs_command_writes_the_page(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "entities.md"
    assert entity_docs.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_entities_markdown()
    assert entity_docs.main([]) == 2
