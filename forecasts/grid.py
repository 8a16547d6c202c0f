"""ln odds and variance over a whole time grid in O(M + T log M) per rule.

At any time t, a group's counted matches (``model.rule_groups``: a rule alone,
or the rules of one group together) are a prefix of its visible matches in
(occurred, position, rule's place) order: those with occurred <= t. So each
match's rank k, and with it r^(k-1), does not depend on t, and without a
half-life the sum over a rule's counted matches is a prefix sum read at
n(t) = #{occurred <= t} of its own matches (which keep their order within the
group's).

With a half-life H (seconds), sum a_m 2^(-(t - o_m)/H) is carried along the time
axis in segments of at most ``SPAN`` half-lives: inside a segment starting at
R, the terms are 2^(-(t - R)/H) * (carried + prefix sum of a_m 2^((o_m - R)/H)),
whose exponents stay within +/- SPAN, so nothing overflows; the carry decays
from one segment to the next. A segment starts at the next match or time, so
each one consumes at least one and the loop always ends. Terms below 2^-1074
relative to a unit would underflow in the direct formula too.

This gives the same numbers as ``model.terms`` up to rounding (about 1e-15);
``model.terms`` stays the reference for one time and for contributions.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from forecasts.model import (
    DAY,
    Floats,
    Ints,
    RuleMatches,
    RuleModel,
    ScenarioModel,
    group_order,
    rule_groups,
    time_term,
)

SPAN = 200.0
HORIZON = 1100.0
"""Half-lives after which a term is 0 in float64 (2^-1074 is the smallest double;
the margin covers coefficients up to 2^26)."""


def _visible(matches: RuleMatches, opens_at: float, known: float) -> tuple[Floats, Ints]:
    """The occurred and position of the matches in E under the cut."""
    retracted = np.isfinite(matches.retracted) & (matches.retracted <= known)
    keep = (matches.recorded <= known) & ~retracted & (matches.occurred >= opens_at)
    return matches.occurred[keep], matches.position[keep]


def _group_ranks(visible: list[tuple[Floats, Ints]]) -> list[Floats]:
    """Per rule of one group, the 0-based ranks of its visible matches among the
    group's visible matches (``model.group_order``)."""
    if len(visible) == 1:
        return [np.arange(visible[0][0].shape[0], dtype=np.float64)]
    order = group_order([o for o, _ in visible], [p for _, p in visible])
    ranks = np.empty(order.shape[0], dtype=np.float64)
    ranks[order] = np.arange(order.shape[0], dtype=np.float64)
    bounds = np.cumsum([o.shape[0] for o, _ in visible])[:-1]
    return list(np.split(ranks, bounds))


def _relevant(occurred: Floats, first: float, half_life: float) -> int:
    """The first match that has not decayed to exactly 0 by ``first``: older ones
    weigh less than 2^-HORIZON there, below the smallest double, as in the direct
    formula (so skipping them changes nothing, and spares their segments)."""
    return int(np.searchsorted(occurred, first - HORIZON * half_life, side="left"))


def _decayed_sums(occurred: Floats, coefficients: Floats, half_life: float, t: Floats) -> Floats:
    """sum over m with occurred[m] <= t of coefficients[m] * 2^(-(t - occurred[m]) / half_life),
    for every t (sorted ascending), occurred sorted ascending.

    Each segment starts at the first match or time not yet consumed and takes
    every one within ``SPAN`` half-lives of it, so every pass consumes at least
    that one and the loop ends within M + T passes, whatever the half-life
    (even one so short that ``start + width == start``); stretches with no
    match and no time are skipped, the carry decayed across them at once.
    """
    if not half_life > 0:
        msg = f"half_life must be positive, not {half_life}"
        raise ValueError(msg)
    out = np.zeros(t.shape[0])
    if t.shape[0] == 0:
        return out
    relevant = _relevant(occurred, float(t[0]), half_life)
    occurred, coefficients = occurred[relevant:], coefficients[relevant:]
    if occurred.shape[0] == 0:
        return out
    width = SPAN * half_life
    carried = 0.0
    previous = float(min(occurred[0], t[0]))
    m_from = 0
    t_from = 0
    while t_from < t.shape[0]:
        start = float(t[t_from])
        if m_from < occurred.shape[0]:
            start = min(start, float(occurred[m_from]))
        with np.errstate(over="ignore"):  # a gap of > 1e308 half-lives: -inf, exp2 0
            carried *= float(np.exp2(-(start - previous) / half_life))
        end = start + width
        m_to = int(np.searchsorted(occurred, end, side="right"))
        t_to = int(np.searchsorted(t, end, side="right"))
        scaled = coefficients[m_from:m_to] * np.exp2((occurred[m_from:m_to] - start) / half_life)
        prefix = np.concatenate(([0.0], np.cumsum(scaled)))
        times = t[t_from:t_to]
        counted = np.searchsorted(occurred[m_from:m_to], times, side="right")
        out[t_from:t_to] = np.exp2(-(times - start) / half_life) * (carried + prefix[counted])
        carried += float(prefix[-1])
        m_from, t_from, previous = m_to, t_to, start
    return out


def _rule_terms(
    rule: RuleModel, occurred: Floats, ranks: Floats, t: Floats
) -> tuple[Floats, Floats]:
    discount = rule.repeat_discount**ranks
    a = rule.ln_b * discount
    s2 = (rule.uncertainty * discount) ** 2
    if rule.half_life_days is None:
        counted = np.searchsorted(occurred, t, side="right")
        a_prefix = np.concatenate(([0.0], np.cumsum(a)))
        s_prefix = np.concatenate(([0.0], np.cumsum(s2)))
        return a_prefix[counted], s_prefix[counted]
    half_life = rule.half_life_days * DAY
    return (
        _decayed_sums(occurred, a, half_life, t),
        _decayed_sums(occurred, s2, half_life / 2, t),
    )


def iter_rule_terms(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    t: Floats,
    known: float = np.inf,
    between_rules: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Floats, Floats]]:
    """Per rule of ``model`` with a visible match, in order: (its index, its
    contribution to ln odds, its contribution to the variance) at every time of
    ``t`` (sorted ascending). A rule with no visible match contributes nothing and
    is skipped. ``between_rules`` is called before each rule with matches (a
    caller's budget check, which may raise). One rule's arrays at a time: a
    caller that sums them holds no more. The ablation (``forecasts.ablation``)
    keeps each contribution to subtract it; for a rule of a group it calls this
    again on the group's rules without the removed one (see that module)."""
    visible = [
        _visible(m, model.opens_at, known) for _, m in zip(model.rules, matches, strict=True)
    ]
    ranks: list[Floats] = [np.empty(0)] * len(visible)
    for members in rule_groups(model.rules):
        found = _group_ranks([visible[r] for r in members])
        for r, rank in zip(members, found, strict=True):
            ranks[r] = rank
    for r, rule in enumerate(model.rules):
        occurred = visible[r][0]
        if not occurred.shape[0]:
            continue
        if between_rules is not None:
            between_rules()
        contribution, spread = _rule_terms(rule, occurred, ranks[r], t)
        yield r, contribution, spread


def sum_terms(
    model: ScenarioModel, rule_terms: Iterable[tuple[int, Floats, Floats]], t: Floats
) -> tuple[Floats, Floats]:
    """(ln odds, variance): the prior, the rules' terms (``iter_rule_terms``) and
    the time term."""
    log_odds = np.full(t.shape[0], model.prior_logit)
    variance = np.full(t.shape[0], model.prior_variance)
    for _, contribution, spread in rule_terms:
        log_odds = log_odds + contribution
        variance = variance + spread
    return log_odds + time_term(model, t), variance


def grid_terms(
    model: ScenarioModel,
    matches: Sequence[RuleMatches],
    t: Floats,
    known: float = np.inf,
    between_rules: Callable[[], None] | None = None,
) -> tuple[Floats, Floats]:
    """(ln odds, variance) at every time of ``t``, which must be sorted ascending
    (the decay is carried forward in time). ``between_rules`` is called before
    each rule with matches (a caller's budget check, which may raise)."""
    return sum_terms(model, iter_rule_terms(model, matches, t, known, between_rules), t)


SEGMENT_COST = 1_000
"""What one decay segment costs beyond its elements (its dozen numpy calls), in
array elements: measured at about 20 us against about 20 ns per element."""


def _segments(values: Floats, width: float) -> int:
    """At most how many segments of ``width`` start at one of ``values`` (sorted):
    one per value, and no more than their span holds."""
    if values.shape[0] == 0:
        return 0
    return int(min(values.shape[0], (float(values[-1]) - float(values[0])) / width + 1))


def grid_cost(model: ScenarioModel, matches: Sequence[RuleMatches], t: Floats) -> int:
    """An up-front estimate of ``grid_terms``'s work, in array elements: per rule
    with matches, its times and matches, plus ``SEGMENT_COST`` per decay segment.
    With a half-life there are two passes (the variance's at half the
    half-life); each segment starts at a match or a time, so a pass has at most
    as many as start at times plus as many as start at matches."""
    if t.shape[0] == 0:
        return 0
    points = int(t.shape[0])
    cost = 0
    for rule, rule_matches in zip(model.rules, matches, strict=True):
        count = len(rule_matches)
        if count == 0:
            continue
        cost += points + count
        if rule.half_life_days is not None:
            half_life = rule.half_life_days * DAY
            for pass_half_life in (half_life, half_life / 2):
                occurred = rule_matches.occurred
                occurred = occurred[_relevant(occurred, float(t[0]), pass_half_life) :]
                width = SPAN * pass_half_life
                segments = _segments(t, width) + _segments(occurred, width)
                cost += SEGMENT_COST * segments
    return cost
