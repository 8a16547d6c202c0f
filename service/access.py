"""API keys and scopes: who may call which route.

Every route handler states what it needs in its ``opt``: ``{"scope": "read"}``,
``"write"`` or ``"admin"`` (each includes the ones before it), or ``"public"``
for health, metrics and the OpenAPI document. One middleware
(``service.web.authorize``) checks the ``Authorization: Bearer <key>`` header
against the configured keys before the handler reads anything; a handler that
states nothing needs ``admin`` (fail closed). With no keys configured every
route is open (and the middleware is not installed): the command line then
serves on loopback only.
"""

import hashlib
import hmac
from collections.abc import Iterable
from contextvars import ContextVar
from enum import IntEnum

from litestar import Litestar
from litestar.openapi.spec import SecurityScheme
from litestar.routes import HTTPRoute

PUBLIC = "public"
SCOPE_OPT = "scope"


class Scope(IntEnum):
    read = 1
    write = 2
    admin = 3


def needs(scope: Scope | str) -> dict[str, str]:
    """The ``opt`` of a route handler that needs ``scope`` (or is ``PUBLIC``)."""
    return {SCOPE_OPT: scope.name if isinstance(scope, Scope) else scope}


class Unauthenticated(Exception):
    """No key, or a key that is not configured (401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(Exception):
    """A valid key whose scope is below what the route needs (403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidKeys(ValueError):
    """A key list that cannot be parsed (the message never contains a key)."""


class ApiKeys:
    """The configured keys and their scopes. Its ``repr`` never shows a key."""

    def __init__(self, scopes: dict[str, Scope] | None = None) -> None:
        self._keys = [(_digest(key.encode()), scope) for key, scope in (scopes or {}).items()]

    @classmethod
    def parse(cls, text: str) -> "ApiKeys":
        """``key:scope`` entries separated by commas or newlines (blank ones ignored)."""
        scopes: dict[str, Scope] = {}
        entries = [e.strip() for e in text.replace("\n", ",").split(",")]
        for number, entry in enumerate((e for e in entries if e), start=1):
            key, sep, scope = entry.rpartition(":")
            if not sep or not key:
                msg = f"API key entry {number} is not key:scope"
                raise InvalidKeys(msg)
            if scope not in Scope.__members__:
                msg = f"API key entry {number} has scope {scope!r}; expected read, write or admin"
                raise InvalidKeys(msg)
            if any(c.isspace() for c in key):
                msg = f"API key entry {number} contains white space"
                raise InvalidKeys(msg)
            scopes[key] = Scope[scope]
        return cls(scopes)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"ApiKeys({len(self._keys)} keys)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKeys) and self._keys == other._keys

    def __hash__(self) -> int:
        return hash(len(self._keys))

    def scope_of(self, presented: bytes) -> Scope | None:
        """The scope of ``presented``, comparing it with every configured key in
        constant time: digests of equal length (so not even the keys' lengths show),
        and no early exit that would tell which key came close."""
        digest = _digest(presented)
        found: Scope | None = None
        for key, scope in self._keys:
            if hmac.compare_digest(key, digest):
                found = scope
        return found


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The key of an ``Authorization: Bearer <key>`` header, or None."""
    for name, value in headers:
        if name == b"authorization":
            kind, _, token = value.partition(b" ")
            token = token.strip()
            return token if kind.lower() == b"bearer" and token else None
    return None


CALLER_WRITES: ContextVar[bool] = ContextVar("caller_writes", default=True)
"""False while serving a request made with a read-only key: such a caller has no
writes of its own, so its reads need not wait for this replica's (see
``service.application.Tradewinds.await_own_writes``)."""


def authorize(
    keys: ApiKeys, required: object, headers: Iterable[tuple[bytes, bytes]]
) -> Scope | None:
    """The presented key's scope (None for a public route, or with no keys
    configured), or raise ``Unauthenticated`` / ``Forbidden``: the route's scope
    (``required``, from its handler's ``opt``) against the presented key's."""
    if required == PUBLIC or not keys:
        return None
    need = (
        Scope[required]
        if isinstance(required, str) and required in Scope.__members__
        else Scope.admin
    )
    presented = presented_key(headers)
    if presented is None:
        raise Unauthenticated("an API key is needed: Authorization: Bearer <key>")
    scope = keys.scope_of(presented)
    if scope is None:
        raise Unauthenticated("the API key is not known")
    if scope < need:
        msg = f"this needs the {need.name} scope; the key has {scope.name}"
        raise Forbidden(msg)
    return scope


BEARER = "bearer"


def add_security(app: Litestar) -> None:
    """State in the OpenAPI document what each operation needs: the bearer key
    with the route's scope as the role (public operations state nothing)."""
    schema = app.openapi_schema
    components = schema.components
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="An API key from TRADEWINDS_API_KEYS; the role listed on an "
            "operation is the scope it needs (read < write < admin).",
        ),
    }
    paths = schema.paths or {}
    for route in app.routes:
        item = paths.get(route.path_format)
        if not isinstance(route, HTTPRoute) or item is None:
            continue
        for handler in route.route_handlers:
            required = handler.opt.get(SCOPE_OPT)
            if required == PUBLIC:
                continue
            role = required if required in Scope.__members__ else Scope.admin.name
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if operation is not None:
                    operation.security = [{BEARER: [role]}]
