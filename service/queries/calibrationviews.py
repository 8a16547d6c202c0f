"""The calibration's answers: ``GET /v1/calibration`` and
``GET /v1/scenarios/{id}/suggested-rules``."""

from msgspec import field

from service.wire import Wire


class EvidenceScaleView(Wire):
    """beta_g of one kinds-key g (a rule's ``match.kind``, a list's kinds sorted and
    joined by "|"), and the distinct (scenario, event) matches of g that entered a
    training sample."""

    kinds: str
    beta: float
    n_matches: int


class CalibrationView(Wire):
    """The recalibration in force at (``as_of``, ``known_at``): every field but
    ``n_scenarios`` (the closed scenarios with a training sample) is null while
    there are fewer of them than ``TRADEWINDS_CALIBRATION_MIN_SCENARIOS``."""

    alpha: float | None
    beta: float | None
    lam: float | None = field(name="lambda")
    n_scenarios: int
    scenario_ids: list[str] | None
    evidence_scales: list[EvidenceScaleView] | None


class SuggestedRule(Wire):
    """A rule's Bayes factor and the suggested one, B^scale with the scale beta_g
    of its kinds-key; both null while there is no calibration."""

    name: str
    kinds: str
    scale: float | None
    bayes_factor: float
    suggested_bayes_factor: float | None


class SuggestedRules(Wire):
    scenario_id: str
    calibration: CalibrationView
    rules: list[SuggestedRule]
