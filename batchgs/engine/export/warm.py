"""What fetching and writing import, imported on a thread while an export's first requests are out.

Polars (~0.13 s), numpy and the output's writer (pyarrow for Parquet, ~0.15 s) were most of an export's
start-up before its first request, though the plan (the attribute list, the probes) needs none of
them. Imported on a thread started just before the plan asks, they load while the event loop waits for
the answers. The fetch imports them as usual: if the thread is not done yet, Python's import lock
makes it wait for that import, never run it twice.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from pathlib import Path

from batchgs.io.write.formats import writer_module

_MODULES = ("batchgs.engine.export.fetch", "batchgs.engine.export.assemble", "batchgs.io.page_bytes")


def warm_up(output: Path) -> threading.Thread:
    """Start importing, on a daemon thread (returned), what fetching pages and writing `output` need."""

    def imports() -> None:
        names = list(_MODULES)
        with contextlib.suppress(Exception):
            names.append(writer_module(output)[0])
        for name in names:
            with contextlib.suppress(Exception):  # (the fetch imports it again and says what failed)
                importlib.import_module(name)

    thread = threading.Thread(target=imports, name="batchgs-imports", daemon=True)
    thread.start()
    return thread
