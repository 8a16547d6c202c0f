"""Responses that route handlers document besides their success: problem details, 304.

The problem body lives here, apart from ``problems`` (the one map from errors to
HTTP), so route modules can document the problems they answer with without
importing that map (which imports them). The fuzz test
(``tests/service/test_fuzz_openapi.py``) holds every route to what it documents.
"""

from http import HTTPStatus

from litestar.openapi.datastructures import ResponseSpec

from domain.errors import FieldError
from service.wire import Wire

PROBLEM_JSON = "application/problem+json"

_MEANING = {
    400: "the body is not JSON, or a parameter cannot be read",
    401: "no API key, or an unknown one (when keys are configured)",
    403: "the API key's scope is too low for this operation",
    404: "no such resource",
    409: "conflicts with what is stored",
    415: "the body is not application/json",
    422: "the request breaks the contract (errors name the fields)",
    503: "not caught up yet (Retry-After)",
}


class Problem(Wire, omit_defaults=True):
    """RFC 9457 problem details; ``errors`` only for validation problems."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


NOT_MODIFIED = ResponseSpec(
    data_container=None, description="the client's copy is current (If-None-Match)"
)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """``responses=`` entries for these problem statuses, and those of every operation
    that takes a key (``service.access``): 400, 401, 403 and 422."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_MEANING.get(status, HTTPStatus(status).phrase),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in sorted({400, 401, 403, 422, *statuses})
    }
