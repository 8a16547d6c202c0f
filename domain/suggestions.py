"""Error text that teaches: what is allowed instead, with the closest guess first.

Pure functions over names and values; the validators (``domain.matching.grammar``,
``domain.body_errors``) call them, the service maps their errors to HTTP.
"""

import difflib
from collections.abc import Collection, Sequence

from domain.countries import COUNTRIES

LONGEST_LIST = 30
"""Value sets larger than this are described, not listed (the country codes)."""

_DESCRIBED: dict[frozenset[str], str] = {
    COUNTRIES: "an ISO 3166-1 alpha-2 country code in capitals (such as CN, US, DE), EU or WORLD",
}


def closest(word: str, candidates: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates that look like ``word``, closest first.

    A candidate that contains ``word`` (``company`` in ``target_company``), or that
    ``word`` contains, ranks first, nearest in length first; then difflib's close
    matches. Case is ignored."""
    folded = word.casefold()
    if not folded:
        return []
    by_fold = {c.casefold(): c for c in candidates}
    containing = sorted(
        (c for f, c in by_fold.items() if folded in f or (len(f) >= 3 and f in folded)),
        key=lambda c: abs(len(c) - len(word)),
    )
    similar = [by_fold[f] for f in difflib.get_close_matches(folded, list(by_fold), n=n)]
    return list(dict.fromkeys([*containing, *similar]))[:n]


def ranked(word: str, candidates: Sequence[str]) -> list[str]:
    """Every candidate, the closest to ``word`` first, the rest in their order."""
    first = closest(word, candidates)
    return [*first, *(c for c in candidates if c not in first)]


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    """``"; did you mean `x`?"`` for the closest candidate, or nothing."""
    best = closest(word, candidates, n=1)
    return f"; did you mean `{best[0]}`?" if best else ""


def no_such_field(head: str, field: str, fields: Sequence[str], label: str = "Its fields") -> str:
    """``head`` (what lacks the field), the closest field and every field, closest first:
    "kind `purchase_ban` has no field `company`; did you mean `target_company`?
    Its fields: target_company, ..."."""
    hint = did_you_mean(field, fields)
    stop = "" if hint else "."
    listed = ", ".join(ranked(field, fields)) if fields else "(none)"
    return f"{head}{hint}{stop} {label}: {listed}"


def allowed_values(allowed: Collection[str]) -> str:
    """The allowed values in words: listed when few, described when many."""
    values = frozenset(allowed)
    if values in _DESCRIBED:
        return _DESCRIBED[values]
    if len(values) > LONGEST_LIST:
        return f"one of {len(values)} values (the OpenAPI schema lists them)"
    listed = allowed if isinstance(allowed, Sequence) else sorted(values)
    return "one of: " + ", ".join(listed)


def one_of(name: str, allowed: Collection[str], got: object) -> str:
    """ "`scope` must be one of: advisory, formal; got `formall`; did you mean `formal`?"."""
    shown = got if isinstance(got, str) else repr(got)
    hint = did_you_mean(shown, sorted(allowed)) if isinstance(got, str) else ""
    return f"{name} must be {allowed_values(allowed)}; got `{shown}`{hint}"
