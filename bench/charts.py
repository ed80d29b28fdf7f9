"""PNG charts for BENCHMARKS.md (docs/bench-*.png), drawn from the JSON results of the last run.

python -m bench charts [--quick]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench import harness as h

DOCS = h.ROOT / "docs"
COLOURS = {"batchgs": "#1f77b4", "loader-style baseline": "#7f7f7f"}


def rate_chart(results: dict[str, Any], target: Path) -> Path:
    """Requests per second at the server over time, one line per client, with the 200/s limit."""
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for client in results["clients"]:
        timeline = client["timeline"]
        ax.plot(
            range(len(timeline)),
            timeline,
            label=client["client"],
            color=COLOURS.get(client["client"], "#d62728"),
        )
    ax.axhline(h.PX_LIMIT, color="black", linestyle="--", linewidth=1, label="PX limit 200/s")
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("requests received in that second")
    ax.set_title(
        f"Importing {results['file_rows']:,} users, "
        f"{results['latency_ms']:g} ± {results['jitter_ms']:g} ms latency"
    )
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def adaptive_chart(results: dict[str, Any], target: Path) -> Path:
    """Accepted requests per second (both clients) while batchgs adapts to the other client."""
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    timeline = results["server"]["accepted_timeline"]
    ax.plot(range(len(timeline)), timeline, label="accepted by the server (both clients)")
    ax.axhline(h.PX_LIMIT, color="black", linestyle="--", linewidth=1, label="PX limit 200/s")
    ax.axhline(results["other_client_rate"], color="#7f7f7f", linestyle=":", label="the other client's 100/s")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests per second")
    ax.set_title("Sharing the budget with another client")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def draw_all(*, quick: bool) -> list[Path]:
    """Every chart whose results exist; returns the files written."""
    folder = h.RESULTS if quick else DOCS  # quick charts never replace the published ones
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rate = h.load("import_rate", quick=quick)
    if rate:
        written.append(rate_chart(rate, folder / "bench-rate.png"))
    adaptive = h.load("adaptive", quick=quick)
    if adaptive:
        written.append(adaptive_chart(adaptive, folder / "bench-adaptive.png"))
    return written
