"""The version of batchgs, written in one place (pyproject.toml reads it: [tool.hatch.version]).

A literal, not importlib.metadata (which alone would double the start-up time of `batchgs --help`), and
a module of its own so that the run folder, the transport and the receipts can name the version without
importing the `batchgs` package facade (which re-exports the Python API).
"""

__version__ = "0.1.0"
