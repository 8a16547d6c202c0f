"""msgspec's terse messages said with what is allowed: a regex as its rule in words,
types and bounds as words ("must be a number at most 100.0")."""

import re
from typing import get_args

from domain.events import ATTRIBUTE_NAME_PATTERN, Url
from domain.scenarios import SLUG_PATTERN

SLUG_WORDS = (
    "3 to 80 characters: lowercase letters, digits and hyphens, starting with a letter or digit"
)
PATTERN_WORDS: dict[str, str] = {
    SLUG_PATTERN: SLUG_WORDS,
    ATTRIBUTE_NAME_PATTERN: (
        "a letter, then up to 63 letters, digits or underscores (an attribute name)"
    ),
    get_args(Url)[1].pattern: "an http:// or https:// URL without white space",
}

REGEX = re.compile(r"^Expected `str` matching regex (?P<pattern>'.*')$")


_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "array": "an array",
    "object": "an object",
    "null": "null",
    "datetime": "an RFC 3339 time with an offset (such as 2025-01-01T00:00:00Z)",
    "duration": "an ISO 8601 duration (such as P1D or PT6H)",
    "uuid": "a UUID",
}
_BOUND_WORDS = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}
_EXPECTED = re.compile(r"^Expected `(?P<types>[^`]+)`, got `(?P<got>[^`]+)`$")
_BOUND = re.compile(r"^Expected `(?P<type>[^`]+)` (?P<op>[<>]=?) (?P<limit>\S+)$")
_LENGTH = re.compile(r"^Expected `(?P<type>str|array|object)` of length (?P<op>[<>]=?) (?P<n>\d+)$")
_TIME = (
    "must be an RFC 3339 time with an offset (such as 2025-01-01T00:00:00Z or "
    "2025-01-01T09:00:00+08:00)"
)
_FIXED = {
    "Expected `datetime` with a timezone component": _TIME,
    "Invalid RFC3339 encoded datetime": _TIME,
    "Invalid ISO8601 duration": "must be an ISO 8601 duration (such as P1D or PT6H)",
    "Invalid UUID": "must be a UUID (such as 0b7f6f0e-8a43-4a43-9d5c-1c2b3f4a5b6c)",
}


def _type_words(types: str) -> str:
    return " or ".join(_TYPE_WORDS.get(t.strip(), f"`{t.strip()}`") for t in types.split("|"))


def in_words(message: str) -> str:
    """One of msgspec's terse messages, said with what is allowed in words: a known
    regex as its rule, types and bounds as words; other messages unchanged."""
    if message in _FIXED:
        return _FIXED[message]
    found = REGEX.match(message)
    if found:
        for pattern, words in PATTERN_WORDS.items():
            if found.group("pattern") == repr(pattern):
                return f"must be {words}"
    expected = _EXPECTED.match(message)
    if expected:
        return f"must be {_type_words(expected['types'])}; got {_type_words(expected['got'])}"
    bound = _BOUND.match(message)
    if bound:
        return f"must be {_type_words(bound['type'])} {_BOUND_WORDS[bound['op']]} {bound['limit']}"
    length = _LENGTH.match(message)
    if length:
        units = {"str": "character", "array": "item", "object": "entry"}
        unit = units[length["type"]] if length["n"] == "1" else f"{units[length['type']]}s"
        unit = unit.replace("ys", "ies")
        return (
            f"must be {_type_words(length['type'])} of {_BOUND_WORDS[length['op']]} "
            f"{length['n']} {unit}"
        )
    return message
