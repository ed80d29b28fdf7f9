"""batchgs: move data between spreadsheets and Gainsight in bulk, within the API limits.

From Python: `batchgs.import_file(...)`, `batchgs.export(...)`, `batchgs.Sandbox(...)`, ... — the names
of batchgs.api, loaded on first use so that `import batchgs` (and `batchgs --help`) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchgs._version import __version__ as __version__

if TYPE_CHECKING:
    from batchgs.api import *  # noqa: F403  (what type checkers and IDEs see; at run time: __getattr__)


def __getattr__(name: str) -> object:
    """`batchgs.<name>` for every public name of batchgs.api, importing it only when first asked.

    `from batchgs import config` asks here first too: a submodule's name is left to the import system,
    so importing a submodule never loads the API.
    """
    from importlib import import_module, util

    if not name.startswith("_") and util.find_spec(f"batchgs.{name}") is None:
        api = import_module("batchgs.api")
        if name in api.__all__:
            return getattr(api, name)
    raise AttributeError(f"module 'batchgs' has no attribute {name!r}")


def __dir__() -> list[str]:
    from importlib import import_module

    return sorted({*globals(), *import_module("batchgs.api").__all__})
