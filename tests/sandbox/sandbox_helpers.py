"""A deliberately plain PX client for the sandbox tests: `requests`, written from the contract only."""

from __future__ import annotations

from typing import Any

import requests

from batchgs.sandbox.server import SandboxThread

PRODUCT_KEY = "AP-TEST-1"


class Px:
    """Thin `requests` wrapper: base URL + key header, nothing clever."""

    def __init__(self, sandbox: SandboxThread, key: str | None = None) -> None:
        self.base = sandbox.url
        self.session = requests.Session()
        self.session.headers["X-APTRINSIC-API-KEY"] = sandbox.api_key if key is None else key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.request("PUT", path, json=body)

    def delete(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        return self.request("DELETE", path, params=params, json=body)


def user(identify_id: str, **fields: Any) -> dict[str, Any]:
    return {"identifyId": identify_id, "propertyKeys": [PRODUCT_KEY], **fields}


def account(account_id: str, name: str = "Acme", **fields: Any) -> dict[str, Any]:
    return {"id": account_id, "name": name, "propertyKeys": [PRODUCT_KEY], **fields}


def event(identify_id: str = "u1", name: str = "Report Exported", **fields: Any) -> dict[str, Any]:
    return {
        "identifyId": identify_id,
        "propertyKey": PRODUCT_KEY,
        "userType": "USER",
        "eventName": name,
        **fields,
    }


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"externalapierror"}, body
    error: dict[str, Any] = body["externalapierror"]
    assert {"status", "message", "debugMessage", "subErrors"} <= set(error)
    return error


def sub_fields(response: requests.Response) -> list[str]:
    """The fields named by the subErrors of a 400."""
    assert response.status_code == 400, (response.status_code, response.text)
    return [s["field"] for s in error_of(response)["subErrors"] or []]


def scroll_all(
    px: Px, path: str, records_key: str, page_size: int, **params: Any
) -> list[list[dict[str, Any]]]:
    """Scroll like a careful client (gainsight-api.md §1.8) and return the pages."""
    pages: list[list[dict[str, Any]]] = []
    scroll_id = None
    seen = 0
    while True:
        query = {"pageSize": page_size, **params}
        if scroll_id:
            query = {"pageSize": page_size, "scrollId": scroll_id}
        response = px.get(path, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        page = body[records_key]
        pages.append(page)
        seen += len(page)
        assert body["scrollId"], "the scrollId stays non-null, even on the last page"
        if len(page) < page_size or not page or body["scrollId"] == scroll_id or seen >= body["totalHits"]:
            return pages
        scroll_id = body["scrollId"]
