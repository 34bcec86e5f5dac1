import time
from typing import Any

import jwt
import pytest

from servicekit.auth import (
    InsufficientAssurance,
    InvalidToken,
    Principal,
    TokenExpired,
    TokenVerifier,
    require_assurance,
)
from servicekit.testing import TokenMinter


class CountingSource:
    """A JWKS source that serves whichever minters' keys it is given and counts fetches."""

    def __init__(self, *minters: TokenMinter) -> None:
        self.minters = list(minters)
        self.fetches = 0

    async def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [key for m in self.minters for key in m.jwks_document()["keys"]]}


def verifier_for(source: CountingSource) -> TokenVerifier:
    return TokenVerifier(
        source, issuer="onevisit-identity", audience="onevisit", min_refetch_seconds=0
    )


async def test_a_valid_token_gives_a_typed_principal() -> None:
    minter = TokenMinter()
    token = minter.mint("c-1", loa=2, region="330302026003", roles=("x",), scope=("a", "b"))
    principal = await verifier_for(CountingSource(minter)).verify(token)
    assert principal == Principal(
        sub="c-1",
        typ="citizen",
        loa=2,
        region="330302026003",
        roles=("x",),
        scope=("a", "b"),
        token=token,
    )


async def test_an_unknown_kid_refetches_the_keys_once() -> None:
    old, new = TokenMinter(), TokenMinter()
    source = CountingSource(old)
    verifier = verifier_for(source)
    await verifier.verify(old.mint("c-1"))
    assert source.fetches == 1
    source.minters.append(new)  # the identity service rotated its key
    await verifier.verify(new.mint("c-1"))
    assert source.fetches == 2
    await verifier.verify(old.mint("c-1"))
    assert source.fetches == 2


@pytest.mark.parametrize(
    ("make_token", "error"),
    [
        (lambda m: m.mint("c-1", issued_at=int(time.time()) - 3600), TokenExpired),
        (lambda m: "not-a-token", InvalidToken),
        (lambda m: m.mint("c-1")[:-4] + "AAAA", InvalidToken),
        (lambda m: TokenMinter(audience="elsewhere").mint("c-1"), InvalidToken),
        (lambda m: TokenMinter().mint("c-1"), InvalidToken),  # a key nobody published
        (
            lambda m: jwt.encode(
                {"sub": "c-1"}, "s" * 32, algorithm="HS256", headers={"kid": m.kid}
            ),
            InvalidToken,
        ),
    ],
)
async def test_bad_tokens_are_refused(make_token: Any, error: type[Exception]) -> None:
    minter = TokenMinter()
    with pytest.raises(error):
        await verifier_for(CountingSource(minter)).verify(make_token(minter))


def test_too_low_an_assurance_names_the_level_and_the_step() -> None:
    principal = Principal(sub="c-1", typ="citizen", loa=2, token="t")
    require_assurance(principal, 2)
    with pytest.raises(InsufficientAssurance) as refused:
        require_assurance(principal, 3)
    assert refused.value.extensions == {"required_loa": 3, "current_loa": 2, "step": "face"}
