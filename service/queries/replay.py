"""``tradewinds replay --check``: rebuild every forecast from an empty projection
and compare it, byte for byte, with what the live service serves.

The live list for "now" comes from the service's cache (kept current by its
projection); the rebuilt one is evaluated from scratch at the same ``as_of``.
Each scenario's detail (with every contribution) is compared too. If the log
grows between the two reads, the comparison is retried at the newer position.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import msgspec

from service.application import Tradewinds
from service.bootstrap import bootstrap
from service.queries.forecasting import Forecaster
from service.queries.snapshots import Query
from service.settings import Settings

_encoder = msgspec.json.Encoder()


@dataclass
class ReplayReport:
    records: int
    seconds: float
    position: int
    differences: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def rebuild(settings: Settings) -> tuple[Tradewinds, float]:
    """A fresh projection of the whole store (started: stop it when done), and how
    long it took to catch up."""
    started = time.perf_counter()
    tradewinds = bootstrap(settings, background=False)
    tradewinds.start()
    while not tradewinds.eventlog.catch_up(60):
        pass
    return tradewinds, time.perf_counter() - started


def _live(client: httpx.Client, path: str, **params: Any) -> bytes:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.content


def _compare(client: httpx.Client, forecaster: Forecaster, report: ReplayReport) -> int:
    """Compare once; returns the live position that was compared."""
    live_list = msgspec.json.decode(_live(client, "/v1/forecasts"))
    as_of = datetime.fromisoformat(live_list["as_of"]).timestamp()
    query = Query(as_of=as_of)
    rebuilt = msgspec.json.decode(_encoder.encode(forecaster.all(query, cache=False)))
    if rebuilt != live_list:
        report.differences.append(f"GET /v1/forecasts at {live_list['as_of']} differs")
    for entry in live_list["forecasts"]:
        scenario_id = entry["scenario_id"]
        live_one = _live(client, f"/v1/forecasts/{scenario_id}", as_of=live_list["as_of"])
        mine = forecaster.one(scenario_id, query)
        if mine is None or _encoder.encode(mine) != live_one:
            report.differences.append(f"GET /v1/forecasts/{scenario_id} differs")
    position: int = live_list["position"]
    return position


def check(settings: Settings, url: str, attempts: int = 3) -> ReplayReport:
    tradewinds, seconds = rebuild(settings)
    eventlog = tradewinds.eventlog
    try:
        report = ReplayReport(records=eventlog.index.position, seconds=seconds, position=0)
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(attempts):
                report.differences.clear()
                head = eventlog.head()
                probe = client.get("/v1/forecasts", params={"min_position": head})
                if probe.status_code == 503:
                    report.differences.append(
                        f"the live service has not applied position {head} of this store"
                    )
                    break
                probe.raise_for_status()
                eventlog.catch_up(30)
                report.position = _compare(client, tradewinds.forecaster, report)
                if not report.differences or report.position == eventlog.index.position:
                    break
        return report
    finally:
        tradewinds.stop()
