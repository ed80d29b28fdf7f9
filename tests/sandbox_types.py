"""Types shared by test modules (conftest files are for fixtures, never imported)."""

from collections.abc import Callable

from batchgs.sandbox.server import SandboxThread

SandboxFactory = Callable[..., SandboxThread]
