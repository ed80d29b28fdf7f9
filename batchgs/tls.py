"""The client's TLS context, and aiohttp imported without loading the CA store for nothing.

aiohttp (3.10 and later) builds two default SSL contexts as it is imported, each loading the system's
CA store: ~0.1 CPU-s, a sixth of an export's start-up, spent even when the base URL is plain HTTP (the
sandbox), and twice where HTTPS needs one context. The client never uses those defaults: it passes its
own verifying context (`client_context`: the system store, or the CAs of BATCHGS_CA_BUNDLE), built only
for an https base URL, and a redirect to another origin (https from http included) is refused before
any TLS is spoken. So the console script has aiohttp imported with the store's loading skipped
(`defer_default_ca_store`, as it sets OPENBLAS_NUM_THREADS; the import runs on the main thread while a
command module loads, before the command starts any thread): aiohttp's defaults then hold no CA, so
anything that did use them would fail verification, never skip it. A program that imports batchgs
keeps aiohttp as it is, since its own sessions may use those defaults.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl
    from types import ModuleType

_defer = False  # (set by the console script before any import: this module's top imports only sys)


def defer_default_ca_store() -> None:
    """Have `import_aiohttp` skip the CA store's loading (the console script only: see the module)."""
    global _defer
    _defer = True


def import_aiohttp() -> ModuleType:
    """aiohttp, imported with the CA store's loading skipped if the console script asked for it and
    aiohttp is not imported yet: how the transport modules that use aiohttp import it."""
    if not _defer or "aiohttp" in sys.modules:
        import aiohttp

        return aiohttp
    import ssl

    context = ssl.SSLContext
    own_paths = context.__dict__.get("set_default_verify_paths")  # (else inherited from _ssl)
    load_default_certs = context.load_default_certs
    context.load_default_certs = _skipped  # type: ignore[method-assign]
    context.set_default_verify_paths = _skipped  # type: ignore[method-assign]
    try:
        import aiohttp
    finally:
        context.load_default_certs = load_default_certs  # type: ignore[method-assign]
        if own_paths is None:
            del context.set_default_verify_paths
        else:
            context.set_default_verify_paths = own_paths  # type: ignore[method-assign]
    return aiohttp


def _skipped(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
    """Stands in for loading the CA store while aiohttp is imported."""


def client_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A context that verifies the server's certificate and name: against the CAs of `ca_bundle` only
    when given (a corporate proxy's CA), else the system's store. OSError or ssl.SSLError when the
    bundle cannot be read."""
    import ssl

    context = ssl.create_default_context(cafile=ca_bundle or None)  # (None: the system's store)
    context.set_alpn_protocols(["http/1.1"])  # (as aiohttp's own contexts)
    return context
