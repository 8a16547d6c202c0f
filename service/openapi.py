"""OpenAPI: litestar writes the document; the tagged unions get their discriminator here."""

from litestar.openapi.spec import Discriminator, OpenAPI, Reference, Schema

from domain.events import KIND_TYPES, LOGGED_TYPES

_TAGS: dict[str, str] = {t.__name__: kind for kind, t in KIND_TYPES.items()} | {
    t.__name__: kind for kind, t in LOGGED_TYPES.items()
}


def _discriminate(schema: Schema) -> None:
    refs = [r for r in schema.one_of or [] if isinstance(r, Reference)]
    if not refs or len(refs) != len(schema.one_of or []):
        return
    names = [r.ref.rsplit("/", 1)[-1] for r in refs]
    if all(n in _TAGS for n in names):
        schema.discriminator = Discriminator(
            property_name="kind",
            mapping={_TAGS[n]: r.ref for n, r in zip(names, refs, strict=True)},
        )


def _walk(node: object, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, Schema):
        _discriminate(node)
    if isinstance(node, dict):
        for value in node.values():
            _walk(value, seen)
    elif isinstance(node, list | tuple):
        for value in node:
            _walk(value, seen)
    elif hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            _walk(getattr(node, name), seen)


def add_discriminators(document: OpenAPI) -> None:
    """Give every ``oneOf`` over event kinds a ``discriminator`` on ``kind``."""
    _walk(document, set())
