"""Domain errors. The service maps each family to one HTTP status, in one place."""

from msgspec import Struct


class FieldError(Struct, frozen=True):
    """One problem with one field: ``field`` is a path into the body (``events[3].category``)."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request is well-formed JSON but breaks the contract (HTTP 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field or '(body)'}: {e.message}" for e in errors))
        self.errors = errors


class NotFound(DomainError):
    """The named event or scenario does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request contradicts what the log already holds (HTTP 409)."""


class EventConflict(Conflict):
    """The event id (or idempotency key) is taken by an event with other content."""


class AlreadyRetracted(Conflict):
    pass


class AlreadyResolved(Conflict):
    pass


class NothingToRetract(Conflict):
    """A retraction of a resolution that is not in force (never resolved, or retracted)."""
