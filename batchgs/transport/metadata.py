"""The attribute list of the PX user and account models (standard and custom), used to type and
check columns before anything is sent (gainsight-api.md 1.5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from batchgs.errors import ResumableStop
from batchgs.transport.client import ApiClient, build_path, raise_for_result


def attributes_path(model: Literal["user", "account"]) -> str:
    return build_path("/v1/admin/model/{}/attributes", model)


async def fetch_attributes(client: ApiClient, model: Literal["user", "account"]) -> list[dict[str, Any]]:
    """Every attribute of `model` as the API lists it ({apiName, name, type, state, origin, ...})."""
    if model not in ("user", "account"):
        raise ValueError(f"unknown model {model!r}")
    result = await client.request("GET", attributes_path(model))
    raise_for_result(result, what=f"reading the {model} attributes")
    body = result.body
    if isinstance(body, Mapping):  # tolerate a wrapped list
        body = next((v for v in body.values() if isinstance(v, list)), None)
    if not isinstance(body, list):
        raise ResumableStop(f"reading the {model} attributes: unexpected answer (not a list)")
    return [dict(item) for item in body if isinstance(item, Mapping) and item.get("apiName")]
