"""What the index tells of scenarios and backtests, as the log recorded them."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from msgspec import Struct

from domain.backtests import BacktestRequest
from domain.scenarios import Resolution, ScenarioDefinition
from forecasts.model import Resolution as ModelResolution


class ScenarioVersion(Struct, kw_only=True):
    version: int
    position: int
    recorded_at: datetime
    definition: ScenarioDefinition


class RetractionState(Struct, kw_only=True):
    position: int
    recorded_at: datetime
    reason: str


class ResolutionState(Struct, kw_only=True):
    position: int
    recorded_at: datetime
    resolution: Resolution
    retraction: RetractionState | None = None

    def model(self) -> ModelResolution:
        """The resolution as the model takes it (times in seconds)."""
        return ModelResolution(
            outcome=self.resolution.outcome,
            resolved_at=self.resolution.resolved_at.timestamp(),
            recorded_at=self.recorded_at.timestamp(),
        )


class ScenarioState(Struct, kw_only=True):
    id: str
    versions: list[ScenarioVersion]
    resolutions: list[ResolutionState] = []
    """Every resolution recorded, in log order: each but the last retracted."""

    @property
    def resolution(self) -> ResolutionState | None:
        """The resolution in force (None: never resolved, or the last one retracted)."""
        last = self.resolutions[-1] if self.resolutions else None
        return last if last is not None and last.retraction is None else None

    @property
    def retracted_resolutions(self) -> list[ResolutionState]:
        return [r for r in self.resolutions if r.retraction is not None]

    @property
    def current(self) -> ScenarioVersion:
        return self.versions[-1]

    @property
    def first_recorded_at(self) -> datetime:
        return self.versions[0].recorded_at


class BacktestState(Struct, kw_only=True):
    """A backtest job as the log tells it."""

    id: UUID
    position: int
    requested_at: datetime
    request: BacktestRequest
    status: Literal["queued", "running", "done", "failed"] = "queued"
    progress: float = 0.0
    result: str | None = None
    error: str | None = None
