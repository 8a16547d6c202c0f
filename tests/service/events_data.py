"""Example request bodies shared by the service tests."""

from typing import Any


def approval(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "export_approval",
        "occurred_at": "2025-12-08T15:00:00-05:00",
        "summary": "Commerce clears Nvidia H200 sales to approved Chinese customers",
        "authority": "US Commerce (BIS)",
        "category": "ai_chip",
        "product": "H200",
        "destination": "CN",
        "tags": ["nvidia"],
        "source": {"name": "Asia Times", "url": "https://asiatimes.com/"},
    }
    body.update(changes)
    return body


def signal(label: str = "test", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "signal",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": f"signal {label}",
        "label": label,
    }
    body.update(changes)
    return body


def scenario(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "US and China sign a tech grand bargain",
        "question": "Will the US and China sign a deal covering chips and rare earths?",
        "opens_at": "2025-09-01T00:00:00Z",
        "deadline": "2026-06-30T00:00:00Z",
        "prior": 0.15,
        "rules": [
            {
                "name": "chip approvals",
                "match": {"kind": "export_approval", "where": {"category": "ai_chip"}},
                "bayes_factor": 1.5,
            }
        ],
    }
    body.update(changes)
    return body
