"""A faithful local emulator of the Gainsight PX and CS APIs (aiohttp.web). Never imports the client.

`SandboxThread` runs it in-process (tests, benchmarks); `batchgs sandbox` runs it as a command.
"""

from batchgs.sandbox.settings import SandboxConfig

__all__ = ["SandboxConfig"]
