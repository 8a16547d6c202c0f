"""The repeated-key check on request bodies (``service.web.bodies``): its quick path
(the body as msgspec would write it) never lets a repeated key through."""

import msgspec
import pytest

from service.web.bodies import _check_unique_keys

REPEATED = [
    b'{"a":1,"a":1}',
    b'{"a":1,"b":{"c":"x","c":"x"}}',
    b'{ "a" : 1 , "a" : 2 }',
    b'{"a":1,"\\u0061":1}',
    b'[{"a":[1,{"b":null,"b":null}]}]',
    b'{"a":1e2,"a":1e2}',
]
UNIQUE = [
    b'{"a":1,"b":{"c":"x"}}',
    b'{ "a" : 1 ,\n "b" : [ "x" , 2.5 ] }',
    b'{"a":"caf\\u00e9","b":"\\/"}',
    b'{"a":1e2,"b":123456789012345678901234567890}',
    b'{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z"}',
]


@pytest.mark.parametrize("raw", REPEATED)
def test_a_repeated_key_is_refused_however_the_body_is_written(raw: bytes) -> None:
    with pytest.raises(msgspec.DecodeError, match="repeats the key"):
        _check_unique_keys(raw)


@pytest.mark.parametrize("raw", UNIQUE)
def test_bodies_without_a_repeated_key_pass_however_they_are_written(raw: bytes) -> None:
    _check_unique_keys(raw)
