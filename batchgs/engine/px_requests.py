"""Which HTTP request each row sends, per entity and mode. Pure functions: no I/O, easy to test.

Gainsight PX has no PATCH and no bulk write: every write carries one object. Ids that a URL path would
mangle go through the "id in body" endpoints of gainsight-api.md; which ids those are is decided in one
place, `transport.client.needs_id_in_body`. Requests with no id-in-body form (get one user, the denylist
flag) refuse such an id with `IdNotInPath` rather than risk a path a proxy would resolve to another user.

Shared by every job that writes to PX (import, opt-out), together with the `Client` seam they send
through, which keys a filter may carry, and how a refused key reads (`fatal_error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from batchgs.errors import FatalApiError
from batchgs.transport.result import ApiResult, BeforeSend
from batchgs.transport.stats import TransportStats
from batchgs.transport.urls import build_path, needs_id_in_body

_UNSAFE_IN_RANGE = frozenset(";\t\r\n ")  # where a key range in a filter must be cut


class IdNotInPath(ValueError):
    """The id cannot go in a URL path and this request has no form that carries it in the body."""

    def __init__(self, what: str, identifier: str) -> None:
        super().__init__(
            f"{what} has no id-in-body form, and the identifier {identifier!r} cannot be sent in a URL path"
        )


def _id_path(template: str, identifier: str, what: str) -> str:
    if needs_id_in_body(identifier):
        raise IdNotInPath(what, identifier)
    return build_path(template, identifier)


class Client(Protocol):
    """What the engine needs of an API client (transport.client.ApiClient, or a test double): its
    request, and its counters (requests, 429s, retries) for progress and summaries."""

    @property
    def stats(self) -> TransportStats: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        idempotent: bool = True,
        headers: dict[str, str] | None = None,
        before_send: BeforeSend | None = None,
    ) -> ApiResult: ...


@dataclass(frozen=True)
class Call:
    """One request. `op` is what a success means for the row (created, updated, deleted...)."""

    method: str
    path: str
    op: str
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True


@dataclass(frozen=True)
class PxCollection:
    """Users and accounts share one request shape: `/v1/users` keyed by identifyId, `/v1/accounts` by id."""

    base: str  # /v1/users
    key_field: str  # identifyId | id

    def create(self, payload: dict[str, Any]) -> Call:
        return Call("POST", self.base, "created", json=payload)

    def update(self, key: str, payload: dict[str, Any]) -> Call:
        """PUT is a partial update: only the fields the row carries change."""
        body = {**payload, self.key_field: key}
        if needs_id_in_body(key):
            return Call("PUT", f"{self.base}/update", "updated", json=body)
        return Call("PUT", build_path(self.base + "/{}", key), "updated", json=body)

    def delete(self, key: str, *, hard: bool) -> Call:
        params = {"hardDelete": "true" if hard else "false"}
        if needs_id_in_body(key):
            return Call("DELETE", f"{self.base}/delete", "deleted", json={self.key_field: key}, params=params)
        return Call("DELETE", build_path(self.base + "/{}", key), "deleted", params=params)

    def get(self, key: str) -> Call:
        """Raises IdNotInPath for an id a path would mangle (ask the list endpoint by filter instead)."""
        return Call("GET", _id_path(self.base + "/{}", key, f"GET {self.base}/{{id}}"), "read")


USERS = PxCollection("/v1/users", "identifyId")
ACCOUNTS = PxCollection("/v1/accounts", "id")
COLLECTIONS = {"users": USERS, "accounts": ACCOUNTS}


def custom_event(payload: dict[str, Any]) -> Call:
    """Custom events are permanent and not de-duplicated by the service: never retried blindly."""
    return Call("POST", "/v1/events/custom", "created", json=payload, idempotent=False)


def preferences_update(identify_id: str, prefs: dict[str, Any], *, version: str = "v2") -> Call:
    body = {k: v for k, v in prefs.items() if k != "identifyId"}
    if needs_id_in_body(identify_id):
        return Call(
            "PUT", f"/{version}/user/preferences", "updated", json={**body, "identifyId": identify_id}
        )
    return Call("PUT", build_path(f"/{version}/user/preferences/{{}}", identify_id), "updated", json=body)


def preferences_get(identify_id: str, *, version: str = "v2") -> Call:
    if needs_id_in_body(identify_id):
        return Call("POST", f"/{version}/user/preferences", "read", json={"identifyId": identify_id})
    return Call("GET", build_path(f"/{version}/user/preferences/{{}}", identify_id), "read")


DENYLIST_PATH = "/v1/users/denylist/{}"


def denylist_get(identify_id: str) -> Call:
    """Raises IdNotInPath: the denylist flag has no id-in-body form."""
    return Call("GET", _id_path(DENYLIST_PATH, identify_id, "the denylist flag"), "read")


def denylist_set(identify_id: str) -> Call:
    """Only ever `{"denied": true}`: batchgs has no code path that removes someone from the denylist.
    Raises IdNotInPath: the denylist flag has no id-in-body form."""
    path = _id_path(DENYLIST_PATH, identify_id, "the denylist flag")
    return Call("PUT", path, "denylisted", json={"denied": True})


def is_possible_duplicate(status: int | None, message: str) -> bool:
    return status == 400 and "duplicate" in message.lower()


def filter_safe(value: str) -> bool:
    """Whether a key can go into a PX `filter=` expression (its operators and separators cannot)."""
    return not any(ch in value for ch in ";,*?=<>!~")


def key_boundary(value: str) -> str:
    """A filter-safe prefix of a key, lower-cased (filter values compare case-insensitively): where
    key ranges (`identifyId>=a;identifyId<b`) may be cut, by exports and by reads of current records."""
    out = []
    for ch in value.lower():
        if ch in _UNSAFE_IN_RANGE:
            break
        out.append(ch)
    return "".join(out)


def fatal_error(result: ApiResult, *, first_write: bool) -> FatalApiError:
    """The run-stopping error of a 401/403: the key is wrong or lacks a permission."""
    if result.status == 403:
        return FatalApiError(
            f"the API refused the key (403): {result.message}",
            status=403,
            hint="the key needs the Write permission for imports (PX: Administration > REST API)"
            if first_write
            else "check the key's permissions, then resume",
        )
    return FatalApiError(
        f"the API refused the key ({result.status}): {result.message}",
        status=result.status,
        hint="check GAINSIGHT_PX_API_KEY and --region/--base-url, then resume",
    )
