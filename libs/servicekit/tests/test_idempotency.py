"""The Idempotency-Key header: how a key is read from it."""

import pytest

from servicekit.idempotency import InvalidIdempotencyKey, idempotency_key


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"01JDKZ4V3Q8X0S6N2E5T7W9Y1A"', "01JDKZ4V3Q8X0S6N2E5T7W9Y1A"),
        ("  padded-key-1  ", "padded-key-1"),
    ],
)
def test_an_idempotency_key_is_read_from_its_header(header: str, key: str) -> None:
    assert idempotency_key(header) == key


@pytest.mark.parametrize("header", ["short", "has space in it", "x" * 129])
def test_a_malformed_idempotency_key_is_refused(header: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        idempotency_key(header)
