"""What the Python API tests (tests/test_api*.py) share."""

from __future__ import annotations

import batchgs
from batchgs.sandbox.server import SandboxThread
from tests.cli.cli_helpers import PRODUCT_KEY


def creds(sandbox: SandboxThread, key: str | None = None) -> batchgs.Credentials:
    """Credentials for the sandbox (or a wrong `key`), as a caller passes them instead of the environment."""
    return batchgs.Credentials(
        px_api_key=key or sandbox.api_key, base_url=sandbox.url, product_key=PRODUCT_KEY
    )
