"""Seeded fault injection: latency with jitter, failures decided BEFORE a request is applied, ambiguous
writes (applied, then answered 500) and dropped connections (before or after applying).

One RNG draw per request decides its fate, in arrival order, so a seed replays the same faults.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from enum import Enum

from aiohttp import web

from batchgs.sandbox.errors import px_error
from batchgs.sandbox.settings import SandboxConfig


class Fate(Enum):
    NORMAL = "normal"
    FAIL = "fail"  # answered with an error status, nothing applied
    AMBIGUOUS = "ambiguous"  # applied, answered 500
    DROP_BEFORE = "drop_before"  # connection closed, nothing applied
    DROP_AFTER = "drop_after"  # applied, connection closed without an answer


@dataclass(frozen=True)
class Decision:
    fate: Fate
    status: int | None
    latency_s: float


class FaultInjector:
    """Draws each request's fate and latency from seeded RNGs."""

    def __init__(self, seed: int) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self._fate_rng = random.Random(seed)
        self._latency_rng = random.Random(seed + 7919)

    def decide(self, config: SandboxConfig) -> Decision:
        draw = self._fate_rng.random()
        status = None
        if draw < config.drop_rate:
            fate = Fate.DROP_AFTER if config.drop_after_apply else Fate.DROP_BEFORE
        elif draw < config.drop_rate + config.fail_rate:
            fate = Fate.FAIL
            status = self._fate_rng.choice(config.fail_statuses)
        elif draw < config.drop_rate + config.fail_rate + config.ambiguous_rate:
            fate = Fate.AMBIGUOUS
            status = 500
        else:
            fate = Fate.NORMAL
        latency_ms = config.latency_ms
        if config.jitter_ms:
            latency_ms += self._latency_rng.uniform(-config.jitter_ms, config.jitter_ms)
        return Decision(fate, status, max(0.0, latency_ms) / 1000.0)


_HTML = "<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>"


def injected_response(status: int, *, cs: bool, retry_after: bool) -> web.Response:
    """The answer of an injected failure, shaped as the real edge would send it.

    429 and 500 come from the API itself (JSON: PX `externalapierror`, CS envelope); 502/503/504
    come from a gateway in front of it, as HTML, to keep clients honest about non-JSON bodies.
    """
    headers = {"Retry-After": "1"} if status == 429 and retry_after else None
    if status in (429, 500):
        message = "Rate limit exceeded" if status == 429 else "Internal server error"
        if cs:
            body = {
                "result": False,
                "errorCode": "GS_APIG_429" if status == 429 else "GS_5000",
                "errorDesc": message,
                "requestId": str(uuid.uuid4()),
                "data": None,
            }
            return web.Response(
                status=status, text=json.dumps(body), content_type="application/json", headers=headers
            )
        return px_error(status, message, headers=headers)
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}[status]
    return web.Response(
        status=status, text=_HTML.format(code=status, reason=reason), content_type="text/html"
    )
