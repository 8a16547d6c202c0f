"""Edges of the match grammar a mutation run found untested (issue 14): ordered
comparisons at equality and multi-value ``in`` on signal attributes (the untyped
path), and the rule index's purpose, testing fewer rules than all."""

from typing import Any

import pytest

import domain.matching.rule_index
from domain.events import BaseEvent
from domain.matching import Match, Predicate, RuleIndex, compile_match, validate_match
from tests.domain.test_matching import event, match


def _holds(m: Match, e: Any) -> bool:
    assert validate_match(m, "m") == []
    return compile_match(m)(e)


ORDERED_AT_EQUALITY = [("lt", False), ("le", True), ("gt", False), ("ge", True)]


class TestOrderedAtEquality:
    @pytest.mark.parametrize(("op", "expected"), ORDERED_AT_EQUALITY)
    @pytest.mark.parametrize("bound", [3, 3.0], ids=["int", "float"])
    def test_on_a_signal_attribute(self, op: str, bound: float, expected: bool) -> None:
        signal = event("signal", attributes={"level": 3})
        assert _holds(match("signal", **{"attributes.level": {op: bound}}), signal) is expected

    @pytest.mark.parametrize(("op", "expected"), ORDERED_AT_EQUALITY)
    def test_on_a_number_field(self, op: str, expected: bool) -> None:
        tariff = event("tariff_change", rate_after_pct=50)
        assert _holds(match("tariff_change", rate_after_pct={op: 50}), tariff) is expected

    @pytest.mark.parametrize(
        ("op", "bound", "expected"),
        [("lt", 4, True), ("le", 2, False), ("gt", 2, True), ("ge", 4, False)],
    )
    def test_on_either_side_of_a_signal_attribute(
        self, op: str, bound: int, expected: bool
    ) -> None:
        signal = event("signal", attributes={"level": 3})
        assert _holds(match("signal", **{"attributes.level": {op: bound}}), signal) is expected


ATTRIBUTES = {"level": 3, "note": "Tight", "ok": True, "tags": ["a", "b"]}


class TestInOnSignalAttributes:
    @pytest.mark.parametrize(
        ("name", "values", "expected"),
        [
            ("note", ["Loose", "Tight"], True),
            ("note", ["Tight", "Loose"], True),
            ("note", ["Loose", "tight"], False),
            ("level", [4, 3], True),
            ("level", [4, 3.0], True),
            ("level", [4, "3"], False),
            ("level", [True, 4], False),
            ("ok", [1, "True"], False),
            ("ok", [1, True], True),
            ("tags", ["x", "b"], True),
            ("tags", ["x", "y"], False),
            ("missing", ["x", 3], False),
        ],
    )
    def test_in_holds_when_one_of_the_values_equals_the_attribute(
        self, name: str, values: list[Any], expected: bool
    ) -> None:
        signal = event("signal", attributes=ATTRIBUTES)
        found_in = _holds(match("signal", **{f"attributes.{name}": {"in": values}}), signal)
        found_nin = _holds(match("signal", **{f"attributes.{name}": {"nin": values}}), signal)
        assert (found_in, found_nin) == (expected, not expected)


Calls = list[BaseEvent]


@pytest.fixture
def tested(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Every event a rule index's predicates are called with, in order."""
    calls: Calls = []

    def counting(m: Match) -> Predicate:
        predicate = compile_match(m)

        def spy(e: BaseEvent) -> bool:
            calls.append(e)
            return predicate(e)

        return spy

    monkeypatch.setattr(domain.matching.rule_index, "compile_match", counting)
    return calls


def _index(rules: dict[str, Match]) -> RuleIndex[str]:
    index: RuleIndex[str] = RuleIndex()
    for key, m in rules.items():
        index.add(key, m)
    return index


AUTHORITIES = [f"Authority {i}" for i in range(40)]


class TestRuleIndexTestsFewerRules:
    def test_an_equality_rule_is_tested_only_against_events_holding_its_value(
        self, tested: Calls
    ) -> None:
        index = _index({a: match("purchase_ban", authority=a) for a in AUTHORITIES})
        hit = event("purchase_ban", authority="Authority 7")
        assert index.matching(hit) == ["Authority 7"]
        assert tested == [hit]
        miss = event("purchase_ban", authority="Nobody")
        assert index.matching(miss) == []
        assert tested == [hit]

    def test_an_in_rule_is_tested_once_under_each_of_its_values(self, tested: Calls) -> None:
        rules = {a: match("purchase_ban", authority=a) for a in AUTHORITIES}
        rules["either"] = match("purchase_ban", authority={"in": ["Authority 1", "Authority 2"]})
        index = _index(rules)
        hit = event("purchase_ban", authority="Authority 2")
        assert sorted(index.matching(hit)) == ["Authority 2", "either"]
        assert len(tested) == 2

    def test_a_list_field_event_tests_the_rules_of_its_items_once_each(self, tested: Calls) -> None:
        rules = {c: match("tariff_change", target=c) for c in ("CN", "HK", "JP", "KR", "TW")}
        rules["both"] = match("tariff_change", target={"in": ["CN", "HK"]})
        index = _index(rules)
        tariff = event("tariff_change", target=["CN", "HK"])
        assert sorted(index.matching(tariff)) == ["CN", "HK", "both"]
        assert len(tested) == 3

    def test_rules_of_other_kinds_are_not_tested(self, tested: Calls) -> None:
        index = _index(
            {
                "keyed": match("purchase_ban", authority="CAC"),
                "unkeyed": match("purchase_ban", summary={"contains": "Nvidia"}),
            }
        )
        assert index.matching(event("export_approval")) == []
        assert tested == []

    def test_a_rule_is_filed_under_its_field_with_the_most_values(self, tested: Calls) -> None:
        for where in (
            {"scope": "advisory", "authority": "CAC"},
            {"authority": "CAC", "scope": "advisory"},
        ):
            index = _index({"both": match("purchase_ban", **where)})
            other_authority = event("purchase_ban", authority="MIIT", scope="advisory")
            assert index.matching(other_authority) == []
            assert tested == []

    def test_a_removed_rule_is_not_tested_and_a_shared_one_stays(self, tested: Calls) -> None:
        index = _index(
            {
                "gone": match("purchase_ban", summary={"contains": "chips"}),
                "kept": match("purchase_ban", authority="CAC"),
                "also kept": match("purchase_ban", authority="CAC"),
            }
        )
        index.remove("gone")
        index.remove("kept")
        ban = event("purchase_ban", authority="CAC", summary="chips")
        assert index.matching(ban) == ["also kept"]
        assert tested == [ban]


class TestContainsOnSignalAttributes:
    @pytest.mark.parametrize(
        ("name", "needle", "expected"),
        [("note", "IGH", True), ("note", 3, False), ("level", "3", False), ("tags", "b", True)],
    )
    def test_contains_looks_into_text_and_lists_only(
        self, name: str, needle: Any, expected: bool
    ) -> None:
        signal = event("signal", attributes=ATTRIBUTES)
        condition = {f"attributes.{name}": {"contains": needle}}
        assert _holds(match("signal", **condition), signal) is expected
