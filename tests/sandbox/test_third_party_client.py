"""A third-party-style loader (like Gainsight's own data loader) works with only the base URL changed:
read the attribute metadata, then for each row PUT the user and POST it when the PUT says 404."""

from __future__ import annotations

from typing import Any

import requests

from batchgs.sandbox.server import SandboxThread


def load_users(base_url: str, api_key: str, rows: list[dict[str, Any]]) -> list[str]:
    """Written against the public contract only; nothing from batchgs."""
    session = requests.Session()
    session.headers.update({"X-APTRINSIC-API-KEY": api_key, "Accept": "application/json"})
    attributes = session.get(f"{base_url}/v1/admin/model/user/attributes", timeout=10).json()
    custom = {
        a["apiName"]: a["type"] for a in attributes if a["origin"] == "CUSTOM" and a["state"] == "ENABLED"
    }
    outcomes = []
    for row in rows:
        body = {k: v for k, v in row.items() if not k.startswith("custom.")}
        body["customAttributes"] = {
            k[len("custom.") :]: v
            for k, v in row.items()
            if k.startswith("custom.") and k[len("custom.") :] in custom
        }
        identify_id = requests.utils.quote(row["identifyId"], safe="")
        response = session.put(f"{base_url}/v1/users/{identify_id}", json=body, timeout=10)
        if response.status_code == 404:
            response = session.post(f"{base_url}/v1/users", json=body, timeout=10)
            outcomes.append("created" if response.status_code == 201 else f"failed {response.status_code}")
        else:
            outcomes.append("updated" if response.status_code == 204 else f"failed {response.status_code}")
    return outcomes


def test_put_then_post_on_404_loader(sandbox: SandboxThread) -> None:
    rows = [
        {
            "identifyId": f"ext {i}é",
            "email": f"person{i}@example.com",
            "propertyKeys": ["AP-LOADER-1"],
            "custom.plan": "team",
            "custom.seats": i,
            "custom.unknownColumn": "dropped by the loader",
        }
        for i in range(20)
    ]
    assert load_users(sandbox.url, sandbox.api_key, rows) == ["created"] * 20
    rows[3]["custom.plan"] = "enterprise"
    assert load_users(sandbox.url, sandbox.api_key, rows) == ["updated"] * 20
    assert sandbox.store.users["ext 3é"]["customAttributes"] == {"plan": "enterprise", "seats": 3}
    assert len(sandbox.store.users) == 20
