"""Turning an HTTP answer (or the lack of one) into meaning happens here, and only here.

`classify` is the one function that decides, for any response or exception, whether a request
succeeded, should be retried, failed for this row only, or must stop the run — and for requests that
are not idempotent (custom events, CS events), whether its fate is unknown (`uncertain`) because it may
have reached the server before it failed. See gainsight-api.md 1.2 (PX error bodies) and 2.1 (CS
envelope).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from batchgs import fastjson
from batchgs.tls import import_aiohttp

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = import_aiohttp()  # (the console script skips its CA store: `batchgs.tls`)

Api = Literal["px", "cs"]

MESSAGE_LIMIT = 300
CS_UNAUTHORIZED = "GS_APIG_2401"
CS_NO_MATCH = "GSOBJ_1011"
DAILY_LIMIT_TEXT = "daily request limit"
DUPLICATE_BLOCKED_TEXT = "duplicate request blocked"
WRITE_PERMISSION_HINT = (
    "the API key needs the Write permission for this request "
    "(Gainsight PX: Administration > REST API; CS: the access key's permissions)"
)
AUTH_HINT = "check the API key and the region / base URL it belongs to"


class Decision(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    ROW_ERROR = "row-error"
    FATAL = "fatal"
    UNCERTAIN = "uncertain"
    QUOTA = "quota"  # the server's daily limit: nothing helps before the rolling 24 h free up


@dataclass(frozen=True)
class Classification:
    """The meaning of one attempt. `code` is the row code for reports; `hint` goes with fatal errors."""

    decision: Decision
    status: int | None
    message: str
    code: str = ""
    body: Any = None
    retry_after: float | None = None  # seconds, from the Retry-After header
    rate_limited: bool = False  # a 429: the limiter must slow everybody down
    hint: str | None = None
    empty_result: bool = False  # CS GSOBJ_1011: a search that matched nothing, not a failure
    raw: bytes | None = None  # a success's body as received, unparsed (`keep_raw`: export pages)


def parse_body(body: bytes) -> Any:
    """The JSON document in `body`, or None when it is empty or not JSON (an HTML error page)."""
    text = body.strip()
    if not text or text[:1] not in (b"{", b"["):
        return None
    try:
        return fastjson.loads(text)
    except ValueError:
        return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header given as delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _clean_raw(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    text = re.sub(r"<[^>]*>", " ", text) if "<" in text and ">" in text else text
    text = " ".join(text.split())
    return text[:MESSAGE_LIMIT] + ("…" if len(text) > MESSAGE_LIMIT else "")


def _sub_error_text(sub: Any) -> str | None:
    if not isinstance(sub, Mapping):
        return str(sub) if sub else None
    message = sub.get("message")
    field = sub.get("field")
    if not message:
        return str(field) if field else None
    name, text = str(field or ""), str(message)
    if name and not text.startswith(name) and f"'{name}'" not in text and f'"{name}"' not in text:
        return f"{name}: {text}"
    return str(message)


def error_message(status: int | None, body: bytes, parsed: Any = None, reason: str = "") -> str:
    """The most specific text of an error answer: subErrors, message, status, raw body, HTTP status."""
    parsed = parse_body(body) if parsed is None else parsed
    if isinstance(parsed, Mapping):
        inner = parsed.get("externalapierror", parsed)
        if isinstance(inner, Mapping):
            subs = inner.get("subErrors")
            if isinstance(subs, list):
                texts = [t for t in (_sub_error_text(s) for s in subs) if t]
                if texts:
                    return "; ".join(texts)[: MESSAGE_LIMIT * 3]
            for key in ("message", "errorDesc", "error_description", "error", "status"):
                value = inner.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()[: MESSAGE_LIMIT * 3]
    raw = _clean_raw(body)
    if raw:
        return raw
    return f"HTTP {status} {reason}".strip() if status is not None else "no answer"


def _cs_envelope(parsed: Any) -> Mapping[str, Any] | None:
    if isinstance(parsed, Mapping) and "result" in parsed and isinstance(parsed.get("result"), bool):
        return parsed
    return None


def _cs_message(envelope: Mapping[str, Any]) -> str:
    code = envelope.get("errorCode")
    desc = envelope.get("errorDesc")
    text = str(desc).strip() if desc else "the request was refused"
    return f"{code}: {text}" if code else text


def _is_daily_limit(message: str) -> bool:
    return DAILY_LIMIT_TEXT in message.lower()


def classify_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    idempotent: bool = True,
    api: Api = "px",
    reason: str = "",
    keep_raw: bool = False,
) -> Classification:
    """Meaning of an HTTP answer. Every answer reached the server, so 5xx on a non-idempotent
    request is `uncertain` (it may have been processed before the server failed). `keep_raw`: a PX
    success keeps its bytes unparsed (the exporter parses pages itself, column-wise)."""
    if keep_raw and api == "px" and 200 <= status < 300:
        return Classification(Decision.SUCCESS, status, "", raw=body)
    parsed = parse_body(body)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    envelope = _cs_envelope(parsed) if api == "cs" else None

    if envelope is not None and envelope.get("errorCode") == CS_NO_MATCH:
        return Classification(Decision.SUCCESS, status, "no records match", body=parsed, empty_result=True)
    if envelope is not None and envelope.get("errorCode") == CS_UNAUTHORIZED:
        return Classification(
            Decision.FATAL, status, _cs_message(envelope), code="unauthorized", body=parsed, hint=AUTH_HINT
        )
    if 200 <= status < 300:
        if envelope is not None and envelope["result"] is False:
            return Classification(
                Decision.ROW_ERROR, status, _cs_message(envelope), code="api-rejected", body=parsed
            )
        return Classification(Decision.SUCCESS, status, "", body=parsed)

    message = _cs_message(envelope) if envelope is not None else error_message(status, body, parsed, reason)
    if status == 429:
        if _is_daily_limit(message):
            return Classification(
                Decision.QUOTA, status, message, code="quota-exhausted", body=parsed, retry_after=retry_after
            )
        return Classification(
            Decision.RETRY, status, message, body=parsed, retry_after=retry_after, rate_limited=True
        )
    if status >= 500:
        if not idempotent:
            return Classification(
                Decision.UNCERTAIN,
                status,
                f"{message} (the server failed after receiving the request; it may have been stored)",
                code="uncertain",
                body=parsed,
            )
        return Classification(Decision.RETRY, status, message, body=parsed, retry_after=retry_after)
    if status == 401:
        return Classification(
            Decision.FATAL, status, message, code="unauthorized", body=parsed, hint=AUTH_HINT
        )
    if status == 403:
        if parsed is None:
            message = "access forbidden (403): the API key is not allowed to do this"
        return Classification(
            Decision.FATAL, status, message, code="forbidden", body=parsed, hint=WRITE_PERMISSION_HINT
        )
    if DUPLICATE_BLOCKED_TEXT in message.lower():
        # The service refused a too-fast repeat without processing it; waiting and retrying is the cure.
        return Classification(Decision.RETRY, status, message, body=parsed, retry_after=retry_after)
    if 300 <= status < 400:
        return Classification(Decision.ROW_ERROR, status, message, code="api-rejected", body=parsed)
    code = "not-found" if status == 404 else "api-rejected"
    return Classification(Decision.ROW_ERROR, status, message, code=code, body=parsed)


def request_never_left(error: BaseException) -> bool:
    """True when the exception proves the request never reached the server (no connection)."""
    return isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def _describe(error: BaseException) -> str:
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "timed out while connecting"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {error.host}:{error.port}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out waiting for the answer"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "the answer was cut off"
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}"[:MESSAGE_LIMIT] if text else name


def classify_exception(
    error: BaseException, *, sent: bool | None = None, idempotent: bool = True
) -> Classification:
    """Meaning of a request that got no complete answer. `sent` says whether the request's headers
    were written (None: unknown, judge by the exception type alone)."""
    if isinstance(
        error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientConnectorSSLError | ssl.SSLError
    ):
        return Classification(
            Decision.FATAL,
            None,
            "TLS verification of the server failed",
            code="tls",
            hint="the certificate is not trusted; if your network inspects TLS, set BATCHGS_CA_BUNDLE "
            "or ca_bundle in batchgs.toml to your CA file",
        )
    if isinstance(error, aiohttp.InvalidURL):
        return Classification(
            Decision.ROW_ERROR, None, f"invalid URL: {error}"[:MESSAGE_LIMIT], code="api-rejected"
        )
    message = _describe(error)
    never_left = request_never_left(error) or sent is False
    if not idempotent and not never_left:
        return Classification(
            Decision.UNCERTAIN,
            None,
            f"{message} after the request was sent; it may have been stored",
            code="uncertain",
        )
    return Classification(Decision.RETRY, None, message)


def classify(
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    error: BaseException | None = None,
    sent: bool | None = None,
    idempotent: bool = True,
    api: Api = "px",
    reason: str = "",
    keep_raw: bool = False,
) -> Classification:
    """The one entry point: an answer (status, headers, body) or an `error` with whether it was `sent`."""
    if error is not None:
        return classify_exception(error, sent=sent, idempotent=idempotent)
    if status is None:
        raise ValueError("classify needs a status or an error")
    return classify_response(
        status, headers or {}, body, idempotent=idempotent, api=api, reason=reason, keep_raw=keep_raw
    )
