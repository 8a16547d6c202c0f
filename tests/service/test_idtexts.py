"""Event ids as text, made from their bytes, are what ``str(UUID)`` writes."""

from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from service.projection.idtexts import id_text, id_texts


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=60))
def test_ids_as_text_are_the_uuids_text(keys: list[bytes]) -> None:
    """Few ids (one by one) and many (numpy) alike."""
    assert id_texts(b"".join(keys)) == [str(UUID(bytes=key)) for key in keys]


def test_an_id_as_text() -> None:
    key = UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert id_text(key.bytes) == str(key)
