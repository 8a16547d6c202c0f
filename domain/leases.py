"""The lease a runner holds on a job in the log (a backtest, a webhook delivery)."""

from datetime import datetime


class LeaseHeld(Exception):
    """Another runner holds an unexpired lease on this job."""


def check_lease_free(
    holder: str | None,
    lease_until: datetime | None,
    claimant: str,
    at: datetime,
    held_as: str,
) -> None:
    """Raise ``LeaseHeld`` unless ``claimant`` may take the lease at ``at``: there is
    none, it has expired (``lease_until <= at``), or it is the claimant's own (a
    renewal). ``held_as`` starts the message, e.g. ``"backtest <id> is run by"``."""
    held = lease_until is not None and lease_until > at
    if held and holder != claimant:
        msg = f"{held_as} {holder} until {lease_until}"
        raise LeaseHeld(msg)
