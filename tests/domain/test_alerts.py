"""Alert conditions: crossing a threshold either way, moving by a distance within a window."""

from datetime import timedelta

import msgspec
import pytest

from domain.alerts import Condition, check_condition, crosses, fires, moves_by
from domain.errors import InvalidInput


class TestCrosses:
    def test_upwards(self) -> None:
        assert crosses(0.5, 0.4, 0.6)

    def test_downwards(self) -> None:
        assert crosses(0.5, 0.6, 0.4)

    def test_reaching_the_threshold_from_below_counts(self) -> None:
        assert crosses(0.5, 0.4, 0.5)

    def test_leaving_it_upwards_does_not(self) -> None:
        assert not crosses(0.5, 0.5, 0.7)

    def test_moves_on_one_side_do_not(self) -> None:
        assert not crosses(0.5, 0.1, 0.45)
        assert not crosses(0.5, 0.9, 0.55)

    def test_no_value_before_or_after_does_not(self) -> None:
        assert not crosses(0.5, None, 0.9)
        assert not crosses(0.5, 0.1, None)


class TestMovesBy:
    def test_fires_on_the_change_that_gets_that_far_from_the_value_a_window_ago(self) -> None:
        assert moves_by(0.1, reference=0.30, before=0.35, after=0.41)

    def test_either_direction(self) -> None:
        assert moves_by(0.1, reference=0.30, before=0.25, after=0.19)

    def test_not_while_closer(self) -> None:
        assert not moves_by(0.1, reference=0.30, before=0.31, after=0.39)

    def test_not_again_while_it_stays_that_far(self) -> None:
        assert not moves_by(0.1, reference=0.30, before=0.45, after=0.50)

    def test_not_without_a_value_a_window_ago(self) -> None:
        assert not moves_by(0.1, reference=None, before=0.3, after=0.9)


def test_fires_picks_the_stated_condition() -> None:
    assert fires(Condition(crosses=0.5), 0.4, 0.6, reference=None)
    within = Condition(moves_by=0.2, within=timedelta(days=1))
    assert fires(within, 0.45, 0.55, reference=0.3)
    assert not fires(within, 0.45, 0.55, reference=0.5)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"crosses": 0.5, "moves_by": 0.1, "within": "P1D"},
        {"crosses": 0.5, "within": "P1D"},
        {"moves_by": 0.1},
        {"moves_by": 0.1, "within": "P400D"},
        {"moves_by": 0.1, "within": "-P1D"},
    ],
)
def test_incomplete_or_mixed_conditions_are_refused(body: dict[str, object]) -> None:
    condition = msgspec.convert(body, Condition)
    with pytest.raises(InvalidInput):
        check_condition(condition)


@pytest.mark.parametrize("body", [{"crosses": 1.0}, {"crosses": 0}, {"moves_by": 0}])
def test_values_out_of_range_do_not_decode(body: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(body, Condition)
