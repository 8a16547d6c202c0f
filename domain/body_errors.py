"""A body that does not decode, explained in terms of what is allowed.

msgspec stops at a body's first problem and says it briefly ("Object contains
unknown field `company` - at `$.events[1]`", "Invalid enum value 'formall'",
"Expected `str` matching regex '...'"). ``body_errors`` reads that message against
the body's type and the body itself (plain JSON) and says it so that it teaches:

- an unknown or missing field names the object's fields, the closest first, and
  reports every unknown and missing field of that object together;
- a value outside an enum (an event kind, a tariff status, an operator) lists the
  allowed values; a pattern is said in words (``PATTERN_WORDS``).

Paths keep msgspec's form (``events[1].company``); a problem with a key of an
object whose key msgspec does not name (``where[...]``) points at the key found in
the body.
"""

import re
from typing import Any

import msgspec
from msgspec import inspect as mi

from domain.errors import FieldError
from domain.suggestions import no_such_field, one_of
from domain.wording import PATTERN_WORDS, REGEX, in_words

_AT = re.compile(r"\s*-\s*at (?P<key>`key` in )?`\$(?P<path>[^`]*)`$")
_SEGMENT = re.compile(r"\.(?P<name>[A-Za-z_]\w*)|\[(?P<index>\d+)\]|\[(?P<any>\.\.\.)\]")
_NAMED = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]+)`$")
_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_LEADING = re.compile(r"^`(?P<name>[A-Za-z_][\w.]*)`")


class _Place:
    """Where in the body msgspec stopped: the type there, the JSON there, its path."""

    def __init__(self, type_: mi.Type, raw: Any, path: str, name: str) -> None:
        self.type = type_
        self.raw = raw
        self.path = path
        self.name = name

    def child(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name


def body_errors(body_type: Any, raw: Any, message: str) -> list[FieldError]:
    """What msgspec's ``message`` about ``raw`` (decoded against ``body_type``) means,
    as field errors that say what is allowed."""
    at = _AT.search(message)
    text = message[: at.start()] if at else message
    place = _walk(mi.type_info(body_type), raw, at.group("path") if at else "")
    if at and at.group("key"):
        return [_key_error(place, text)]
    named = _NAMED.match(text)
    if named:
        return _field_errors(place, named.group("name"))
    value = _VALUE.match(text)
    if value:
        return [FieldError(place.path, _enum_text(place, _literal(value.group("value"))))]
    leading = _LEADING.match(text)  # a __post_init__ check names its field first
    if leading:
        return [FieldError(place.child(leading.group("name")), text)]
    return [FieldError(place.path, in_words(text) + _bounds_note(place.type))]


def _bounds_note(type_: mi.Type) -> str:
    """A model parameter's bounds in words, from its schema description
    ("...; allowed: 1/24 (one hour) to 36500 days")."""
    while isinstance(type_, mi.UnionType | mi.Metadata):
        if isinstance(type_, mi.Metadata):
            described = (type_.extra_json_schema or {}).get("description", "")
            if "; allowed: " in described:
                return f" (allowed: {described.rsplit('; allowed: ', 1)[1]})"
            type_ = type_.type
        else:
            inner = [t for t in type_.types if not isinstance(t, mi.NoneType)]
            if len(inner) != 1:
                return ""
            type_ = inner[0]
    return ""


def _walk(type_: mi.Type, raw: Any, path: str) -> _Place:
    place = _Place(type_, raw, "", "the body")
    for step in _SEGMENT.finditer(path):
        here = _settle(place.type, place.raw)
        if step.group("name"):
            name = step.group("name")
            place = _Place(_member(here, name), _get(place.raw, name), place.child(name), name)
        elif step.group("index"):
            i = int(step.group("index"))
            item = here.item_type if isinstance(here, mi.ListType) else mi.AnyType()
            got = place.raw[i] if isinstance(place.raw, list) and i < len(place.raw) else None
            place = _Place(item, got, f"{place.path}[{i}]", f"{place.name}[{i}]")
        else:
            value = here.value_type if isinstance(here, mi.DictType) else mi.AnyType()
            place = _Place(value, place.raw, place.path, place.name)  # the key: see _key_error
    return place


def _settle(type_: mi.Type, raw: Any) -> mi.Type:
    """The type a value of ``type_`` has once metadata and unions are resolved by ``raw``."""
    while True:
        if isinstance(type_, mi.Metadata):
            type_ = type_.type
        elif isinstance(type_, mi.UnionType):
            branch = _branch(type_, raw)
            if branch is None:
                return type_
            type_ = branch
        else:
            return type_


def _branch(union: mi.UnionType, raw: Any) -> mi.Type | None:
    options = [t for t in union.types if not isinstance(t, mi.NoneType)]
    if isinstance(raw, dict):
        structs = [t for t in options if isinstance(t, mi.StructType)]
        for s in structs:
            if s.tag_field is None or raw.get(s.tag_field) == s.tag:
                return s
        if structs:
            return None
    wanted: type[mi.Type] | None = None
    if isinstance(raw, list):
        wanted = mi.ListType
    elif isinstance(raw, dict):
        wanted = mi.DictType
    fitting: list[mi.Type] = [t for t in options if wanted and isinstance(t, wanted)]
    if fitting:
        return fitting[0]
    return options[0] if len(options) == 1 else None


def _member(here: mi.Type, name: str) -> mi.Type:
    if isinstance(here, mi.StructType):
        for field in here.fields:
            if field.encode_name == name:
                return field.type
    if isinstance(here, mi.UnionType) and name in _tag_fields(here):
        return mi.LiteralType(tuple(_tags(here)))
    if isinstance(here, mi.DictType):
        return here.value_type
    return mi.AnyType()


def _get(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else None


def _tag_fields(union: mi.UnionType) -> set[str]:
    return {t.tag_field for t in union.types if isinstance(t, mi.StructType) and t.tag_field}


def _tags(union: mi.UnionType) -> list[str]:
    return [str(t.tag) for t in union.types if isinstance(t, mi.StructType) and t.tag]


def parameter_message(annotation: Any, name: str, message: str) -> str:
    """msgspec's message about a path or query parameter ``name`` of type
    ``annotation``, with the allowed values or the rule in words."""
    value = _VALUE.match(message)
    allowed = _allowed(mi.type_info(annotation)) if value else None
    if value and allowed is not None:
        return one_of(f"`{name}`", allowed, _literal(value.group("value")))
    return in_words(message)


def _field_names(struct: mi.StructType) -> list[str]:
    """The struct's fields, those its own class adds to its bases' first."""
    bases = [b for b in struct.cls.__mro__[1:] if issubclass(b, msgspec.Struct)]
    inherited = {f.encode_name for b in bases[-2:-1] for f in msgspec.structs.fields(b)}
    names = [f.encode_name for f in struct.fields]
    return [*(n for n in names if n not in inherited), *(n for n in names if n in inherited)]


def _owner(place: _Place, struct: mi.StructType) -> str:
    if struct.tag is not None:
        return f"kind `{struct.tag}`"
    return "the body" if not place.path else f"`{place.name}`"


def _field_errors(place: _Place, name: str) -> list[FieldError]:
    """Every unknown and every missing field of the object msgspec stopped in."""
    here = _settle(place.type, place.raw)
    if isinstance(here, mi.UnionType) and name in _tag_fields(here):
        allowed = _tags(here)
        return [FieldError(place.child(name), f"`{name}` is required: one of {', '.join(allowed)}")]
    if not isinstance(here, mi.StructType) or not isinstance(place.raw, dict):
        return [FieldError(place.child(name), f"the field `{name}` is missing or not allowed")]
    fields = _field_names(here)
    owner = _owner(place, here)
    known = {*fields, here.tag_field}
    unknown = [key for key in place.raw if key not in known]
    missing = [f.encode_name for f in here.fields if f.required and f.encode_name not in place.raw]
    return [
        *(
            FieldError(place.child(k), no_such_field(f"{owner} has no field `{k}`", k, fields))
            for k in unknown
        ),
        *(FieldError(place.child(m), f"{owner} requires the field `{m}`") for m in missing),
    ]


def _literal(shown: str) -> object:
    """The value msgspec quoted in its message ('formall', 5) as JSON would hold it."""
    if len(shown) >= 2 and shown[0] == shown[-1] == "'":
        return shown[1:-1]
    try:
        return msgspec.json.decode(shown)
    except msgspec.DecodeError:
        return shown


def _allowed(type_: mi.Type) -> list[str] | None:
    if isinstance(type_, mi.Metadata):
        return _allowed(type_.type)
    if isinstance(type_, mi.LiteralType):
        return [str(v) for v in type_.values]
    if isinstance(type_, mi.UnionType):
        for t in type_.types:
            found = _allowed(t)
            if found is not None:
                return found
    if isinstance(type_, mi.ListType):
        return _allowed(type_.item_type)
    return None


def _enum_text(place: _Place, value: object) -> str:
    allowed = _allowed(place.type)
    if allowed is None:
        return f"`{value}` is not allowed here"
    return one_of(f"`{place.name}`", allowed, value)


def _key_error(place: _Place, text: str) -> FieldError:
    """A key of the object at ``place`` is not allowed (msgspec names no key)."""
    raw = place.raw if isinstance(place.raw, dict) else {}
    value = _VALUE.match(text)
    culprit = _literal(value.group("value")) if value else None
    key, inner = _culprit(raw, culprit)
    path = place.child(key) if key is not None else place.path
    here = _settle(place.type, inner)
    if isinstance(here, mi.DictType):
        allowed = _allowed(here.key_type)
        if allowed is not None and culprit is not None:
            return FieldError(path, one_of("a key here", allowed, culprit))
    regex = REGEX.match(text)
    if regex and key is None:
        pattern = next((p for p in PATTERN_WORDS if repr(p) == regex.group("pattern")), None)
        key = next((k for k in raw if pattern and not re.search(pattern, k)), None)
        path = place.child(key) if key is not None else place.path
    shown = f"`{key}`" if key is not None else "a key"
    return FieldError(path, f"{shown} is not allowed: a key here {in_words(text)}")


def _culprit(raw: dict[str, Any], culprit: object) -> tuple[str | None, Any]:
    """The key of ``raw`` that is (or whose object holds) the rejected key."""
    for key, value in raw.items():
        if isinstance(value, dict) and culprit in value:
            return key, value
    for key, value in raw.items():
        if key == culprit:
            return key, value
    return None, None
