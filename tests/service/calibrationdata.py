"""Closed scenarios built through the API, and the calibration of ``forecasts``
computed directly from what was posted (the models and matches written out here,
not read back from the service)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from litestar.testing import TestClient

from forecasts.calibration import (
    EvidenceScales,
    Recalibration,
    fit_evidence_scales,
    fit_recalibration,
)
from forecasts.model import Resolution, RuleMatches, RuleModel, ScenarioModel
from forecasts.training import ScenarioTraining, kinds_key, scenario_training, training_set

Client = TestClient  # type: ignore[type-arg]
INF = float("inf")

OPENS = "2025-01-01T00:00:00Z"
SIGNAL_B = 3.0
APPROVAL_B = 0.5
APPROVAL_KINDS = ["export_restriction", "export_approval"]


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rules(slug: str) -> list[dict[str, Any]]:
    """Two rules per scenario, of two kinds-keys: "signal", and a list of kinds."""
    common = {"uncertainty": 0.35, "repeat_discount": 1.0}
    return [
        {
            "name": "signals",
            "match": {"kind": "signal", "where": {"label": f"{slug}-up"}},
            "bayes_factor": SIGNAL_B,
            **common,
        },
        {
            "name": "approvals",
            "match": {"kind": APPROVAL_KINDS, "where": {"product": slug}},
            "bayes_factor": APPROVAL_B,
            **common,
        },
    ]


def definition(slug: str, deadline: str, prior: float) -> dict[str, Any]:
    return {
        "title": f"Scenario {slug}",
        "question": f"Does {slug} happen?",
        "opens_at": OPENS,
        "deadline": deadline,
        "prior": prior,
        "prior_strength": 10.0,
        "timing": "uniform",
        "rules": rules(slug),
    }


def model(deadline: str, prior: float) -> ScenarioModel:
    return ScenarioModel(
        prior=prior,
        prior_strength=10.0,
        opens_at=seconds(OPENS),
        deadline=seconds(deadline),
        uniform_timing=True,
        rules=tuple(
            RuleModel(
                name=name,
                ln_b=float(np.log(b)),
                uncertainty=0.35,
                half_life_days=None,
                repeat_discount=1.0,
            )
            for name, b in (("signals", SIGNAL_B), ("approvals", APPROVAL_B))
        ),
    )


@dataclass
class Posted:
    """One scenario as posted: its model, per rule the matches (occurred, position,
    recorded) and its resolutions (each with its retraction's recorded_at)."""

    slug: str
    model: ScenarioModel
    matches: list[list[tuple[float, int, float]]] = field(default_factory=lambda: [[], []])
    resolutions: list[Resolution] = field(default_factory=list)

    def rule_matches(self) -> list[RuleMatches]:
        found = []
        for rule_matches in self.matches:
            ordered = sorted(rule_matches, key=lambda m: (m[0], m[1]))
            found.append(
                RuleMatches(
                    occurred=np.array([m[0] for m in ordered], dtype=np.float64),
                    position=np.array([m[1] for m in ordered], dtype=np.int64),
                    recorded=np.array([m[2] for m in ordered], dtype=np.float64),
                    retracted=np.full(len(ordered), INF),
                )
            )
        return found

    def training(self, *, known: float, at: float) -> ScenarioTraining | None:
        kinds = [kinds_key("signal"), kinds_key(APPROVAL_KINDS)]
        return scenario_training(
            self.slug,
            self.model,
            self.rule_matches(),
            tuple(self.resolutions),
            kinds,
            known=known,
            at=at,
        )


class World:
    """Scenarios posted through the API, remembered as the model sees them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.posted: dict[str, Posted] = {}

    def scenario(self, slug: str, deadline: str, prior: float) -> None:
        response = self.client.put(f"/v1/scenarios/{slug}", json=definition(slug, deadline, prior))
        assert response.status_code == 201, response.text
        self.posted[slug] = Posted(slug, model(deadline, prior))

    def signal(self, slug: str, occurred: str) -> None:
        event = {"kind": "signal", "occurred_at": occurred, "summary": "up", "label": f"{slug}-up"}
        self._post(slug, 0, event)

    def approval(self, slug: str, occurred: str) -> None:
        event = {
            "kind": "export_approval",
            "occurred_at": occurred,
            "summary": "approved",
            "authority": "BIS",
            "category": "ai_chip",
            "product": slug,
            "destination": "CN",
        }
        self._post(slug, 1, event)

    def _post(self, slug: str, rule: int, event: dict[str, Any]) -> None:
        response = self.client.post("/v1/events", json=event)
        assert response.status_code == 201, response.text
        receipt = response.json()
        self.posted[slug].matches[rule].append(
            (seconds(event["occurred_at"]), receipt["position"], seconds(receipt["recorded_at"]))
        )

    def resolve(self, slug: str, outcome: str, resolved_at: str) -> float:
        """Resolve; returns when it was recorded."""
        response = self.client.post(
            f"/v1/scenarios/{slug}/resolution",
            json={"outcome": outcome, "resolved_at": resolved_at},
        )
        assert response.status_code == 201, response.text
        recorded = seconds(response.json()["recorded_at"])
        self.posted[slug].resolutions.append(Resolution(outcome, seconds(resolved_at), recorded))  # type: ignore[arg-type]
        return recorded

    def retract_resolution(self, slug: str) -> None:
        response = self.client.post(
            f"/v1/scenarios/{slug}/resolution/retraction", json={"reason": "wrong"}
        )
        assert response.status_code == 201, response.text
        recorded = seconds(response.json()["recorded_at"])
        last = self.posted[slug].resolutions[-1]
        self.posted[slug].resolutions[-1] = Resolution(
            last.outcome, last.resolved_at, last.recorded_at, recorded
        )

    def fit(
        self, *, known: float = INF, at: float, lam: float = 1.0, min_scenarios: int = 5
    ) -> tuple[Recalibration | None, EvidenceScales | None, int]:
        """The fits of ``forecasts`` on these scenarios, and how many have samples."""
        samples = [
            s
            for slug in sorted(self.posted)
            if (s := self.posted[slug].training(known=known, at=at)) is not None
        ]
        training = training_set(samples)
        return (
            fit_recalibration(training, lam, min_scenarios),
            fit_evidence_scales(training, lam, min_scenarios),
            len(samples),
        )


def closed_world(client: Client, count: int) -> World:
    """``count`` scenarios with deadlines in 2025 (past), alternately "yes" (early)
    and "no" (at the deadline), each with a few signals and approvals."""
    world = World(client)
    for i in range(count):
        slug = f"closed-{i}"
        deadline = f"2025-{6 + i % 6:02d}-01T00:00:00Z"
        world.scenario(slug, deadline, 0.2 + 0.1 * (i % 5))
        for day in range(i % 3 + 1):
            world.signal(slug, f"2025-02-{10 + 3 * day:02d}T00:00:00Z")
        if i % 2:
            world.approval(slug, "2025-03-05T12:00:00Z")
    for i in range(count):
        slug = f"closed-{i}"
        if i % 2 == 0:
            world.resolve(slug, "yes", f"2025-04-{10 + i:02d}T00:00:00Z")
        else:
            world.resolve(slug, "no", f"2025-{6 + i % 6:02d}-01T00:00:00Z")
    return world
