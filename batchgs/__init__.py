"""batchgs: move data between spreadsheets and Gainsight in bulk, within the API limits.

From Python: `batchgs.import_file(...)`, `batchgs.export(...)`, `batchgs.Sandbox(...)`, ... — the names
of batchgs.api, loaded on first use so that `import batchgs` (and `batchgs --help`) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The one place the version is written (pyproject.toml reads it: [tool.hatch.version]); a literal, not
# importlib.metadata, which alone would double the start-up time of `batchgs --help`.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from batchgs.api import *  # noqa: F403  (what type checkers and IDEs see; at run time: __getattr__)


# batchgs.api.__all__ (tests/test_api.py checks they are the same): spelled out so that looking up any
# other name (`from batchgs import config` asks this module first) never imports the API.
_API_NAMES = frozenset(
    {
        "BatchgsError",
        "ConfigError",
        "Credentials",
        "ExitCode",
        "FatalApiError",
        "InputFileError",
        "Interrupted",
        "NotResumableError",
        "OutputFileError",
        "ProgressCallback",
        "QuotaExhausted",
        "QuotaKey",
        "QuotaResult",
        "ResumableStop",
        "RunResult",
        "Sandbox",
        "StrictValidationError",
        "UsageError",
        "ValidationResult",
        "export",
        "export_async",
        "import_file",
        "import_file_async",
        "option_defaults",
        "optout",
        "optout_async",
        "quota",
        "quota_async",
        "resume",
        "resume_async",
        "status",
        "status_async",
        "validate_file",
        "validate_file_async",
    }
)


def __getattr__(name: str) -> object:
    """`batchgs.<name>` for every public name of batchgs.api, importing it only when first asked."""
    if name in _API_NAMES:
        from importlib import import_module

        return getattr(import_module("batchgs.api"), name)
    raise AttributeError(f"module 'batchgs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API_NAMES})
