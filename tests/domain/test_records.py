"""The lease guard of the job records, and the topics the log stores records under."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from domain.leases import LeaseHeld, check_lease_free
from domain.records import AlertRecord, BacktestRecord, DeliveryRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
MakeJob = Callable[[], BacktestRecord | DeliveryRecord]


class TestCheckLeaseFree:
    def test_no_lease_is_free(self) -> None:
        check_lease_free(None, None, "runner-b", T0, "job is run by")

    def test_another_owners_live_lease_is_refused_with_who_holds_it_until_when(self) -> None:
        until = T0 + LEASE
        with pytest.raises(LeaseHeld) as refused:
            check_lease_free("runner-a", until, "runner-b", T0, "backtest 7 is run by")
        assert str(refused.value) == f"backtest 7 is run by runner-a until {until}"

    def test_a_lease_ending_a_moment_later_is_still_live(self) -> None:
        with pytest.raises(LeaseHeld):
            check_lease_free("runner-a", T0 + timedelta(microseconds=1), "runner-b", T0, "x")

    @pytest.mark.parametrize("ended", [timedelta(0), timedelta(seconds=1)])
    def test_an_expired_lease_is_free_from_the_moment_it_ends(self, ended: timedelta) -> None:
        check_lease_free("runner-a", T0 - ended, "runner-b", T0, "job is run by")

    def test_the_owner_may_renew_its_own_live_lease(self) -> None:
        check_lease_free("runner-a", T0 + LEASE, "runner-a", T0, "job is run by")


def backtest() -> BacktestRecord:
    return BacktestRecord.request(uuid4(), "{}", T0)


def delivery() -> DeliveryRecord:
    return DeliveryRecord.fire(uuid4(), "alert", "scenario", "{}", T0)


@pytest.mark.parametrize(
    ("make", "held_as"),
    [(backtest, "backtest {} is run by"), (delivery, "delivery {} is being sent by")],
)
class TestClaim:
    """Both job records take their lease through the one guard."""

    def test_a_live_lease_is_refused_to_another_owner(self, make: MakeJob, held_as: str) -> None:
        record = make()
        record.claim("runner-a", LEASE, T0)
        with pytest.raises(LeaseHeld) as refused:
            record.claim("runner-b", LEASE, T0 + LEASE / 2)
        assert str(refused.value) == f"{held_as.format(record.id)} runner-a until {T0 + LEASE}"
        assert record.owner == "runner-a"
        assert record.version == 2

    def test_an_expired_lease_is_taken_over(self, make: MakeJob, held_as: str) -> None:
        record = make()
        record.claim("runner-a", LEASE, T0)
        record.claim("runner-b", LEASE, T0 + LEASE)
        assert record.owner == "runner-b"
        assert record.lease_until == T0 + 2 * LEASE

    def test_the_owner_renews_its_live_lease(self, make: MakeJob, held_as: str) -> None:
        record = make()
        record.claim("runner-a", LEASE, T0)
        record.claim("runner-a", LEASE, T0 + LEASE / 2)
        assert record.lease_until == T0 + LEASE / 2 + LEASE


class TestStoredTopics:
    """The alert records live in ``domain.alert_records`` but are stored, as before
    the move, under ``domain.records`` topics: a log written by either version is
    read by the other."""

    def test_alert_and_delivery_records_keep_their_domain_records_topics(self) -> None:
        for record in (AlertRecord, DeliveryRecord):
            assert get_topic(record) == f"domain.records:{record.__name__}"
            for name, event in vars(record).items():
                if isinstance(event, type) and issubclass(event, record.Event):
                    assert get_topic(event) == f"domain.records:{record.__name__}.{name}"

    def test_a_stored_alert_record_is_read_back_from_its_topics(self) -> None:
        app: Application[UUID] = Application()
        record = AlertRecord.define("alert-1", "{}", T0)
        record.revise('{"v":2}', T0 + LEASE)
        record.delete(T0 + 2 * LEASE)
        app.save(record)
        stored = app.recorder.select_notifications(start=1, limit=10)
        assert [n.topic for n in stored] == [
            "domain.records:AlertRecord.Defined",
            "domain.records:AlertRecord.Revised",
            "domain.records:AlertRecord.Deleted",
        ]
        again: AlertRecord = app.repository.get(record.id)
        assert (again.slug, again.body, again.deleted) == ("alert-1", '{"v":2}', True)
