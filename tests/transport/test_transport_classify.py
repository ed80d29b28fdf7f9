"""The one classification function, table-driven: every status class, bodies, CS envelopes, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from batchgs.transport.classify import Decision, classify, error_message, parse_retry_after


def px_error(
    message: str | None = "Bad request", subs: list[dict] | None = None, status: str = "BAD_REQUEST"
) -> bytes:
    inner: dict = {"status": status, "message": message, "debugMessage": None}
    if subs is not None:
        inner["subErrors"] = subs
    return json.dumps({"externalapierror": inner}).encode()


def cs(result: bool, code: str | None = None, desc: str | None = None, data: object = None) -> bytes:
    return json.dumps(
        {"result": result, "errorCode": code, "errorDesc": desc, "requestId": "r1", "data": data}
    ).encode()


HTML_403 = b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>"

# (status, body, idempotent, api, decision, code, message fragment)
OK, RETRY, ROW, FATAL, UNSURE = (
    Decision.SUCCESS,
    Decision.RETRY,
    Decision.ROW_ERROR,
    Decision.FATAL,
    Decision.UNCERTAIN,
)
EMAIL = [{"field": "email", "message": "must be a well-formed email address"}]
TWO = [{"field": "a", "message": "first"}, {"field": "b", "message": "b is wrong"}]
LIMIT = px_error("Rate limit exceeded", status="TOO_MANY_REQUESTS")
DAILY = px_error("Daily request limit exceeded", status="TOO_MANY_REQUESTS")
DUPLICATE = px_error("Duplicate request blocked. Please wait before retrying")
# fmt: off
RESPONSES = [
    (200, b'{"id": "u1"}', True, "px", OK, "", ""),
    (201, b"", False, "px", OK, "", ""),
    (204, b"", True, "px", OK, "", ""),
    (302, b"", True, "px", ROW, "api-rejected", "HTTP 302"),  # a redirect the client did not follow
    (400, px_error(subs=EMAIL), True, "px", ROW, "api-rejected", "email: must be a well-formed"),
    (400, px_error(subs=TWO), True, "px", ROW, "api-rejected", "a: first; b is wrong"),
    (400, px_error("Bad request, possible duplicate"), True, "px", ROW, "api-rejected", "possible duplicate"),
    (400, px_error(None, status="BAD_REQUEST"), True, "px", ROW, "api-rejected", "BAD_REQUEST"),
    (400, b"plain text failure " + b"x" * 1000, True, "px", ROW, "api-rejected", "plain text failure"),
    (404, px_error("User not found", status="NOT_FOUND"), True, "px", ROW, "not-found", "User not found"),
    (404, b"", True, "px", ROW, "not-found", "HTTP 404"),
    (409, px_error("Conflict"), False, "px", ROW, "api-rejected", "Conflict"),
    (401, px_error("Unauthorized", status="UNAUTHORIZED"), True, "px", FATAL, "unauthorized", "Unauthorized"),
    (403, HTML_403, True, "px", FATAL, "forbidden", "access forbidden (403)"),
    (403, px_error("Forbidden", status="FORBIDDEN"), True, "px", FATAL, "forbidden", "Forbidden"),
    (429, LIMIT, True, "px", RETRY, "", "Rate limit"),
    (429, LIMIT, False, "px", RETRY, "", "Rate limit"),  # refused before processing: safe to resend
    (429, DAILY, True, "px", Decision.QUOTA, "quota-exhausted", "Daily request limit exceeded"),
    (500, px_error("Internal error"), True, "px", RETRY, "", "Internal error"),
    (502, b"<html>bad gateway</html>", True, "px", RETRY, "", "bad gateway"),
    (503, b"", True, "px", RETRY, "", "HTTP 503"),
    (500, px_error("Internal error"), False, "px", UNSURE, "uncertain", "may have been stored"),
    (503, b"", False, "cs", UNSURE, "uncertain", "may have been stored"),
    (400, DUPLICATE, True, "px", RETRY, "", "Duplicate request blocked"),
    # CS envelopes: `result` and `errorCode` decide, not only the HTTP status.
    (200, cs(True, data={"records": []}), True, "cs", OK, "", ""),
    (200, cs(False, "COCKPIT_5101", "Invalid CTA"), True, "cs", ROW, "api-rejected", "COCKPIT_5101: Invalid"),
    (400, cs(False, "GSOBJ_1005", "bad date"), True, "cs", ROW, "api-rejected", "GSOBJ_1005: bad date"),
    (400, cs(False, "GSOBJ_1011", "No entity matches"), True, "cs", OK, "", "no records match"),
    (401, cs(False, "GS_APIG_2401", "Unauthorized"), True, "cs", FATAL, "unauthorized", "GS_APIG_2401"),
    (200, cs(False, "GS_APIG_2401", "Unauthorized"), True, "cs", FATAL, "unauthorized", "GS_APIG_2401"),
    (429, cs(False, "GS_APIG_429", "Too many requests"), True, "cs", RETRY, "", "Too many requests"),
    (404, cs(False, "GSOBJ_404", "not found"), True, "cs", ROW, "not-found", "not found"),
]
# fmt: on


@pytest.mark.parametrize(("status", "body", "idempotent", "api", "decision", "code", "fragment"), RESPONSES)
def test_responses(status, body, idempotent, api, decision, code, fragment) -> None:
    verdict = classify(status, {}, body, idempotent=idempotent, api=api)
    assert verdict.decision is decision
    assert verdict.code == code
    assert fragment in verdict.message
    assert verdict.status == status


def test_gsobj_1011_is_an_empty_result() -> None:
    verdict = classify(400, {}, cs(False, "GSOBJ_1011", "No entity matches"), api="cs")
    assert verdict.empty_result
    assert classify(200, {}, cs(True), api="cs").empty_result is False


def test_px_body_with_result_key_is_not_read_as_a_cs_envelope() -> None:
    assert classify(200, {}, b'{"result": false}', api="px").decision is Decision.SUCCESS


def test_403_html_is_clean_and_hints_at_write_permission() -> None:
    verdict = classify(403, {"Content-Type": "text/html"}, HTML_403)
    assert "<" not in verdict.message
    assert verdict.hint and "Write permission" in verdict.hint


def test_raw_body_is_cut_to_a_sane_length() -> None:
    verdict = classify(418, {}, b"y" * 5000)
    assert len(verdict.message) <= 301


def test_429_carries_retry_after_and_rate_limited() -> None:
    verdict = classify(429, {"Retry-After": "3"}, b"")
    assert verdict.rate_limited and verdict.retry_after == 3.0
    assert classify(503, {"Retry-After": "2"}, b"").retry_after == 2.0


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    when = datetime.fromtimestamp(now, UTC) + timedelta(seconds=42)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == pytest.approx(42, abs=1)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    past = format_datetime(datetime.fromtimestamp(now - 100, UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_error_message_order() -> None:
    assert error_message(400, px_error("general", [{"field": "x", "message": "specific"}])) == "x: specific"
    assert error_message(400, px_error("general", [])) == "general"
    assert error_message(400, b"") == "HTTP 400"


def _connector_error() -> aiohttp.ClientConnectorError:
    from types import SimpleNamespace

    key = SimpleNamespace(host="127.0.0.1", port=9, ssl=True)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))  # type: ignore[arg-type]


# (exception, sent, idempotent, decision)
EXCEPTIONS = [
    (lambda: _connector_error(), None, False, Decision.RETRY),
    (lambda: _connector_error(), None, True, Decision.RETRY),
    (lambda: aiohttp.ConnectionTimeoutError("connect"), None, False, Decision.RETRY),
    (lambda: aiohttp.ServerDisconnectedError(), True, False, Decision.UNCERTAIN),
    (lambda: aiohttp.ServerDisconnectedError(), True, True, Decision.RETRY),
    (lambda: aiohttp.ServerDisconnectedError(), False, False, Decision.RETRY),
    (lambda: aiohttp.SocketTimeoutError("read"), True, False, Decision.UNCERTAIN),
    (lambda: TimeoutError(), True, False, Decision.UNCERTAIN),
    (lambda: TimeoutError(), None, False, Decision.UNCERTAIN),
    (lambda: TimeoutError(), True, True, Decision.RETRY),
    (lambda: aiohttp.ClientPayloadError("cut"), True, False, Decision.UNCERTAIN),
    (lambda: aiohttp.ClientOSError(104, "reset"), True, False, Decision.UNCERTAIN),
    (lambda: aiohttp.ClientOSError(104, "reset"), True, True, Decision.RETRY),
    (lambda: aiohttp.InvalidURL("http://[bad"), None, True, Decision.ROW_ERROR),
]


@pytest.mark.parametrize(("make", "sent", "idempotent", "decision"), EXCEPTIONS)
def test_exceptions(make, sent, idempotent, decision) -> None:
    verdict = classify(error=make(), sent=sent, idempotent=idempotent)
    assert verdict.decision is decision
    assert verdict.status is None
    if decision is Decision.UNCERTAIN:
        assert verdict.code == "uncertain"


def test_tls_failure_is_fatal_with_a_hint() -> None:
    import ssl

    verdict = classify(error=ssl.SSLCertVerificationError("certificate verify failed"), sent=False)
    assert verdict.decision is Decision.FATAL
    assert verdict.hint and "BATCHGS_CA_BUNDLE" in verdict.hint


def test_needs_a_status_or_an_error() -> None:
    with pytest.raises(ValueError):
        classify()
