"""The --changed-only diff: values compare as the API stores them, only the file's fields count."""

from __future__ import annotations

from batchgs.engine.imports.diff import changed_payload, diff_record, flatten, same_value, unflatten

STORED = {
    "identifyId": "u1",
    "email": "Ada@Example.com",
    "firstName": "Ada",
    "lastName": None,
    "score": 5.0,
    "signUpDate": 1_700_000_000_000,
    "propertyKeys": ["AP-1", "AP-2"],
    "customAttributes": {"plan": "pro", "seats": 5, "isBeta": False, "trialEnd": 1_600_000_000_000},
    "location": {"city": "Paris", "countryCode": "FR", "coordinates": {"latitude": 48.85, "longitude": 2.35}},
    "lastSeenDate": 1_750_000_000_000,  # read-only, not in any file
}


def test_a_row_equal_as_stored_is_unchanged() -> None:
    payload = {
        "identifyId": "u1",
        "email": "ada@example.com",  # the API may fold the case
        "score": 5,  # 5 == 5.0
        "signUpDate": 1_700_000_000_000,
        "propertyKeys": ["AP-1"],  # already on the record
        "customAttributes": {"seats": 5.0, "isBeta": False, "trialEnd": 1_600_000_000_000},
        "location": {"city": "Paris", "coordinates": {"latitude": 48.85}},
    }
    diff = diff_record("u1", payload, STORED, "identifyId")
    assert diff.action == "unchanged"
    assert diff.changes == ()


def test_only_changed_fields_are_listed_with_before_and_after() -> None:
    payload = {
        "identifyId": "u1",
        "firstName": "Grace",
        "lastName": "Hopper",
        "customAttributes": {"plan": "pro", "seats": 6},
        "location": {"city": "Lyon", "countryCode": "FR"},
    }
    diff = diff_record("u1", payload, STORED, "identifyId")
    assert diff.action == "update"
    assert [(c.field, c.before, c.after) for c in diff.changes] == [
        ("firstName", "Ada", "Grace"),
        ("lastName", None, "Hopper"),
        ("customAttributes.seats", 5, 6),
        ("location.city", "Paris", "Lyon"),
    ]
    body = changed_payload(payload, diff, "identifyId")
    assert body == {
        "identifyId": "u1",
        "firstName": "Grace",
        "lastName": "Hopper",
        "customAttributes": {"seats": 6},  # merged key by key by the API: only the changed one
        "location": {"city": "Lyon", "countryCode": "FR"},  # not documented to merge: sent whole
    }


def test_missing_record_is_a_create_of_every_field() -> None:
    diff = diff_record(
        "u9", {"identifyId": "u9", "email": "x@y.z", "customAttributes": {"a": 1}}, None, "identifyId"
    )
    assert diff.action == "create"
    assert [(c.field, c.before, c.after) for c in diff.changes] == [
        ("email", None, "x@y.z"),
        ("customAttributes.a", None, 1),
    ]


def test_value_rules() -> None:
    assert same_value("score", 5, "5")
    assert not same_value("score", 5, 5.5)
    assert not same_value("score", 5, None)
    assert same_value("flag", True, "true")
    assert not same_value("flag", True, False)
    assert not same_value("flag", False, None)
    assert same_value("email", "A@B.c", "a@b.C")
    assert not same_value("firstName", "Ada", "ada")  # only emails ignore case
    assert not same_value("propertyKeys", ["AP-3"], ["AP-1"])
    assert same_value("tags", ["b", "a"], ["a", "b"])
    assert not same_value("signUpDate", 1_700_000_000_000, 1_700_000_000_001)


def test_flatten_and_unflatten_are_inverse() -> None:
    flat = flatten(STORED)
    assert flat["location.coordinates.latitude"] == 48.85
    assert flat["customAttributes.plan"] == "pro"
    assert unflatten(flat) == STORED


def test_email_case_counts_only_where_the_api_keeps_it() -> None:
    payload = {"identifyId": "u1", "email": "ada@example.com"}
    assert diff_record("u1", payload, STORED, "identifyId").action == "unchanged"  # may be folded
    kept = diff_record("u1", payload, STORED, "identifyId", fold_email=False)
    assert kept.action == "update"
    assert [(c.field, c.before, c.after) for c in kept.changes] == [
        ("email", "Ada@Example.com", "ada@example.com")
    ]
    same = {"identifyId": "u1", "email": "Ada@Example.com"}
    assert diff_record("u1", same, STORED, "identifyId", fold_email=False).action == "unchanged"
