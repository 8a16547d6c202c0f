"""openapi/openapi.json is generated from the code and kept equal to it."""

import json
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from service.cli.openapi_export import current_document, render

COMMITTED = Path(__file__).parents[2] / "openapi" / "openapi.json"
EVENT_KINDS = {
    "export_approval", "export_restriction", "purchase_ban", "tariff_change", "licensing_deal",
    "material_export_control", "joint_venture", "negotiation", "acquisition",
    "regulatory_action", "market_share_report", "signal",
}  # fmt: skip


def test_committed_openapi_json_is_current() -> None:
    assert COMMITTED.read_text() == render(current_document()), (
        "openapi/openapi.json is stale: run `make openapi`"
    )


def _event_body_schema(document: dict[str, Any]) -> dict[str, Any]:
    body = document["paths"]["/v1/events"]["post"]["requestBody"]
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def test_the_event_union_is_a_discriminated_one_of() -> None:
    schema = _event_body_schema(current_document())
    assert len(schema["oneOf"]) == 12
    assert schema["discriminator"]["propertyName"] == "kind"
    assert set(schema["discriminator"]["mapping"]) == EVENT_KINDS


def test_the_served_schema_is_the_committed_one(client: TestClient) -> None:  # type: ignore[type-arg]
    served = client.get("/schema").json()
    assert served == json.loads(COMMITTED.read_text())


def test_every_event_route_is_documented() -> None:
    paths = current_document()["paths"]
    assert {
        "/v1/events",
        "/v1/events/batch",
        "/v1/events/{event_id}",
        "/v1/events/{event_id}/retraction",
        "/v1/scenarios",
        "/v1/scenarios/{scenario_id}",
        "/v1/scenarios/{scenario_id}/resolution",
        "/health/live",
        "/health/ready",
    } <= set(paths)
