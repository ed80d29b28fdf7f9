"""batchgs: move data between spreadsheets and Gainsight in bulk, within the API limits."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("batchgs")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
