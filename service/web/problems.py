"""Every error, as RFC 9457 problem details, mapped to HTTP in this one place.

Domain errors carry their meaning (InvalidInput, NotFound, Conflict);
litestar's own errors (unknown route, wrong method, a body it could not decode)
are rewritten to the same shape. msgspec reports the first problem of a body
with a message ending in "- at `$.events[3].category`" (or naming a missing or
unknown field in backticks): that path becomes the problem's ``field``.

A JSON body is explained before it gets here (``service.web.bodies`` raises
``InvalidInput`` from ``domain.body_errors``); path and query parameters are said
here with the values they take (``domain.body_errors.parameter_message``), and
msgspec's other terse messages in words (``domain.wording.in_words``).
"""

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from domain.body_errors import parameter_message
from domain.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from domain.wording import in_words
from service.access import Forbidden, Unauthenticated
from service.persistence.errors import StoreFull, StoreUnavailable, as_store_error
from service.queries.budget import ReadOverBudget
from service.queries.reading import ProjectionBehind
from service.web.responses import PROBLEM_JSON, Problem

logger = logging.getLogger("service.api.problems")

_AT_PATH = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`$")
_NAMED_FIELD = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")
_LEADING_FIELD = re.compile(r"^`(?P<name>[A-Za-z_][\w.]*)`")


def problem(
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    title = HTTPStatus(status).phrase
    body = Problem(
        type=f"https://tradewinds.invalid/problems/{title.lower().replace(' ', '-')}",
        title=title,
        status=status,
        detail=detail,
        errors=errors,
    )
    if status == 503:
        headers = {"Retry-After": "1", **(headers or {})}
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_error(message: str, path: str = "") -> FieldError:
    """A msgspec validation message as a field path into the body and a message.

    ``path`` is where msgspec stopped (litestar passes it as the error's key,
    ``data`` for the top level); a message that names a missing or unknown
    field, or a ``__post_init__`` message that starts with one, extends it.
    """
    at = _AT_PATH.search(message)
    if at:
        path = path or at.group("path").lstrip(".")
        message = message[: at.start()]
    if path == "data":
        path = ""
    named = _NAMED_FIELD.search(message) or _LEADING_FIELD.search(message)
    if named:
        name = named.group("name")
        path = f"{path}.{name}" if path else name
    return FieldError(field=path, message=in_words(message))


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    if request.method in ("POST", "PUT") and request.headers.get("content-length") == "0":
        return problem(400, "the body is empty: a JSON document is expected")
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[FieldError] = []
    for item in extra:
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        source = item.get("source") if isinstance(item, dict) else None
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        if source == "body" and _is_malformed_json(message):
            return problem(400, f"the body is not valid JSON: {message}")
        errors.append(_parameter_error(request, message, key) or field_error(message, key))
    if not errors:
        return problem(400, exc.detail)
    return problem(422, "the request breaks the contract", errors)


def _parameter_error(request: Request[Any, Any, Any], message: str, key: str) -> FieldError | None:
    """A path or query parameter's error, with the values the parameter takes."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    if parameter is None or key == "data":
        return None
    return FieldError(field=key, message=parameter_message(parameter.annotation, key, message))


def _is_malformed_json(message: str) -> bool:
    return message.startswith(("JSON is malformed", "Input data was truncated", "invalid utf-8"))


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    """Keeps the exception's headers (``Allow`` on a 405, litestar sets it)."""
    return problem(exc.status_code, exc.detail, headers=exc.headers)


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    if isinstance(exc, InvalidInput):
        return problem(422, "the request breaks the contract", exc.errors)
    if isinstance(exc, NotFound):
        return problem(404, exc.detail)
    if isinstance(exc, Conflict):
        return problem(409, exc.detail)
    return problem(400, exc.detail)


def _behind(request: Request[Any, Any, Any], exc: ProjectionBehind) -> Response[Problem]:
    return problem(503, exc.detail)


def _over_budget(request: Request[Any, Any, Any], exc: ReadOverBudget) -> Response[Problem]:
    return problem(503, exc.detail, headers={"Retry-After": str(exc.retry_after)})


def _store(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """The store cannot be reached or written (the writer logged it once; not logged
    per request): 503, or 507 when its disk is full, with ``Retry-After``."""
    problem_ = as_store_error(exc)
    if problem_ is None:
        return _unexpected(request, exc)
    status = 507 if isinstance(problem_, StoreFull) else 503
    return problem(status, problem_.detail, headers={"Retry-After": str(problem_.retry_after_s)})


def _unauthenticated(request: Request[Any, Any, Any], exc: Unauthenticated) -> Response[Problem]:
    response = problem(401, exc.detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="tradewinds"'
    return response


def _forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[Problem]:
    return problem(403, exc.detail)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "an unexpected error; it has been logged")


def _decode(request: Request[Any, Any, Any], exc: msgspec.DecodeError) -> Response[Problem]:
    return problem(400, f"the body is not valid JSON: {exc}")


def _invalid(request: Request[Any, Any, Any], exc: msgspec.ValidationError) -> Response[Problem]:
    """A body that is JSON but not of the route's type (``service.web.bodies``)."""
    return problem(422, "the request breaks the contract", [field_error(str(exc))])


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: _validation,
    HTTPException: _http,
    DomainError: _domain,
    ProjectionBehind: _behind,
    ReadOverBudget: _over_budget,
    StoreUnavailable: _store,
    OperationalError: _store,
    InterfaceError: _store,
    Unauthenticated: _unauthenticated,
    Forbidden: _forbidden,
    msgspec.DecodeError: _decode,
    msgspec.ValidationError: _invalid,
    Exception: _unexpected,
}
