"""The benchmark suite's own parts: the measuring helpers, the two competitor clients (they must behave
as BENCHMARKS.md says they do, or the comparison means nothing) and the report/chart generation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchgs.sandbox.server import SandboxThread
from bench import charts, harness, loader_baseline, naive_async, report
from tests.sandbox_types import SandboxFactory


def test_sliding_second_counts_the_busiest_half_open_window() -> None:
    times = [0.0, 0.5, 0.99, 1.0, 1.5, 1.98, 3.0]
    assert harness.max_in_sliding_second(times) == 4  # (0.98, 1.98] holds 0.99, 1.0, 1.5, 1.98
    assert harness.max_in_sliding_second([0.0, 1.0, 2.0]) == 1  # 0.0 is out of (0.0, 1.0]
    assert harness.per_second([10.0, 10.2, 11.5, 13.0]) == [2, 1, 0, 1]
    assert harness.mean_rate([0.0, 0.5, 1.0]) == pytest.approx(2.0)


def _users_file(tmp_path: Path, ids: list[str]) -> Path:
    return harness.write_users_csv(tmp_path / "users.csv", ids)


def test_loader_baseline_puts_then_posts_on_404_one_row_at_a_time(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(seed_users=3)
    users = _users_file(tmp_path, [*harness.seeded_ids(3), *harness.new_ids(4)])
    result = loader_baseline.load_users(sandbox.url, sandbox.api_key, users, "AP-TEST-1")
    assert result["rows"] == 7
    assert result["requests"] == 3 + 2 * 4  # existing: PUT; new: PUT 404 then POST
    assert all(200 <= status < 300 for status in result["statuses"])
    routes = sandbox.stats(log=False)["by_route"]
    assert routes["POST /v1/users"] == 4
    assert sandbox.store.counts()["users"] == 7


def test_naive_script_bursts_past_the_limit_and_loses_rows(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """AsyncLimiter(200, 1) lets a full bucket out at once: a server allowing 50/s refuses the excess,
    and without backoff those rows are lost."""
    sandbox: SandboxThread = sandbox_factory(rate_limit=50)
    users = _users_file(tmp_path, harness.new_ids(120))
    result = naive_async.load_users(sandbox.url, sandbox.api_key, users, "AP-TEST-1")
    stats = sandbox.stats()
    times = [t for t, _ in harness.arrivals(stats)]
    assert harness.max_in_sliding_second(times) > 50
    assert result["statuses"].get(429, 0) > 0
    assert sandbox.store.counts()["users"] == sum(n for s, n in result["statuses"].items() if 200 <= s < 300)


def _fake_results(folder: Path) -> None:
    client = {
        "client": "batchgs",
        "rows": 1000,
        "requests_per_row": 1.001,
        "rows_per_second": 181.5,
        "mean_requests_per_second": 189.2,
        "share_of_limit": 0.946,
        "max_in_any_sliding_second": 200,
        "responses_429": 0,
        "rows_lost": 0,
        "peak_rss_mib": 120.0,
        "cpu_ms_per_request": 0.8,
        "timeline": [150, 190, 189],
    }
    data: dict[str, Any] = {
        "when": "2026-11-27",
        "latency_ms": 50,
        "jitter_ms": 20,
        "rate": 200,
        "file_rows": 1000,
        "clients": [client, {**client, "client": "loader-style baseline", "rows_per_second": 9.7}],
        "speedup_vs_baseline": 18.7,
    }
    (folder / "import_rate.json").write_text(json.dumps(data))


def test_report_rewrites_only_the_generated_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    _fake_results(tmp_path)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Prose above\n\n{report.BEGIN}\nold table\n{report.END}\n\nProse below.\n")
    monkeypatch.setattr(report, "DOC", doc)
    report.update(quick=False)
    text = doc.read_text()
    assert text.startswith("# Prose above") and text.endswith("Prose below.\n")
    assert "old table" not in text
    assert "| batchgs | 1,000 | 1.001 | 181.5 | 189.2 | 94.6% | 200 | 0 | 0 |" in text
    assert "**18.7×**" in text


def test_charts_are_drawn_from_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    monkeypatch.setattr(charts, "DOCS", tmp_path / "docs")
    _fake_results(tmp_path)
    written = charts.draw_all(quick=False)
    assert [p.name for p in written] == ["bench-rate.png"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
