"""`request(raw=True)`: a PX success keeps its bytes unparsed (the exporter parses pages itself); every
other answer is classified exactly as without it."""

from __future__ import annotations

from batchgs.transport.classify import Decision, classify_response

PAGE = b'{"users":[{"identifyId":"u1"}],"scrollId":"s"}'


def test_a_px_success_keeps_its_bytes_and_is_not_parsed() -> None:
    verdict = classify_response(200, {}, PAGE, keep_raw=True)
    assert verdict.decision is Decision.SUCCESS and verdict.raw == PAGE and verdict.body is None
    assert classify_response(200, {}, PAGE).raw is None  # the default parses, as before


def test_errors_and_cs_answers_are_classified_as_without_raw() -> None:
    for status, body in ((429, b'{"message":"slow down"}'), (400, b'{"message":"bad filter"}'), (401, b"")):
        plain, raw = classify_response(status, {}, body), classify_response(status, {}, body, keep_raw=True)
        assert (raw.decision, raw.message, raw.raw) == (plain.decision, plain.message, None)
    cs = b'{"result":false,"errorCode":"GS_1","errorDesc":"no"}'
    assert classify_response(200, {}, cs, api="cs", keep_raw=True).decision is Decision.ROW_ERROR
