"""batchgs: move data between spreadsheets and Gainsight in bulk, within the API limits."""

# The one place the version is written (pyproject.toml reads it: [tool.hatch.version]); a literal, not
# importlib.metadata, which alone would double the start-up time of `batchgs --help`.
__version__ = "0.1.0"

__all__ = ["__version__"]
