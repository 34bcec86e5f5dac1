import time
from typing import Any

import jwt
import pytest
from jwt.algorithms import OKPAlgorithm

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
        source,
        issuer="http://127.0.0.1:8000/identity/v1",
        audience="onevisit",
        min_refetch_seconds=0,
    )


async def test_a_valid_token_gives_a_typed_principal() -> None:
    minter = TokenMinter()
    issued_at = int(time.time())
    token = minter.mint(
        "c-1", loa=2, region="330302026003", roles=("x",), scope=("a", "b"), issued_at=issued_at
    )
    principal = await verifier_for(CountingSource(minter)).verify(token)
    assert principal == Principal(
        sub="c-1",
        typ="citizen",
        loa=2,
        region="330302026003",
        roles=("x",),
        scope=("a", "b"),
        iat=issued_at,
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


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def caching_verifier(
    source: CountingSource, clock: Clock, *, cache_size: int = 16, cache_seconds: float = 300.0
) -> TokenVerifier:
    return TokenVerifier(
        source,
        issuer="http://127.0.0.1:8000/identity/v1",
        audience="onevisit",
        min_refetch_seconds=0,
        cache_seconds=cache_seconds,
        cache_size=cache_size,
        clock=clock,
    )


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature is checked, in order (as its signed part: header.payload)."""
    checked: list[str] = []
    verify = OKPAlgorithm.verify

    def counting_verify(self: OKPAlgorithm, msg: bytes, key: Any, sig: bytes) -> bool:
        checked.append(msg.decode())
        return verify(self, msg, key, sig)

    monkeypatch.setattr(OKPAlgorithm, "verify", counting_verify)
    return checked


def signed_part(token: str) -> str:
    return token.rsplit(".", 1)[0]


async def test_a_verified_token_is_served_from_the_cache_until_it_expires(
    signature_checks: list[str],
) -> None:
    minter, clock = TokenMinter(), Clock()
    verifier = caching_verifier(CountingSource(minter), clock)
    token = minter.mint("c-1", ttl_seconds=60, issued_at=int(clock.now))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert signature_checks == [signed_part(token)]
    clock.now += 59
    assert await verifier.verify(token) == first
    assert signature_checks == [signed_part(token)]


async def test_a_cached_token_past_its_expiry_is_refused() -> None:
    minter, clock = TokenMinter(), Clock()
    verifier = caching_verifier(CountingSource(minter), clock)
    token = minter.mint("c-1", ttl_seconds=60, issued_at=int(clock.now))
    await verifier.verify(token)
    clock.now += 60 + 5  # its exp, and the tolerated clock skew, have passed
    with pytest.raises(TokenExpired):
        await verifier.verify(token)
    assert verifier.cached_tokens == 0


async def test_the_cache_keeps_the_most_recently_used_tokens_up_to_its_size(
    signature_checks: list[str],
) -> None:
    minter, clock = TokenMinter(), Clock()
    verifier = caching_verifier(CountingSource(minter), clock, cache_size=2)
    first, second, third = (minter.mint(f"c-{n}") for n in range(3))
    for token in (first, second, first, third):
        await verifier.verify(token)
    assert verifier.cached_tokens == 2
    signature_checks.clear()
    await verifier.verify(first)  # used recently: kept
    assert signature_checks == []
    await verifier.verify(second)  # the least recently used: dropped for the third
    assert signature_checks == [signed_part(second)]


async def test_a_key_removed_from_the_jwks_takes_its_cached_tokens_with_it() -> None:
    old, new = TokenMinter(), TokenMinter()
    source, clock = CountingSource(old), Clock()
    verifier = caching_verifier(source, clock, cache_seconds=0)
    token = old.mint("c-1")
    await verifier.verify(token)
    source.minters[:] = [new]  # the identity service retired the old key
    with pytest.raises(InvalidToken):
        await verifier.verify(token)
    assert verifier.cached_tokens == 0


async def test_a_refused_token_is_not_cached() -> None:
    minter, clock = TokenMinter(), Clock()
    verifier = caching_verifier(CountingSource(minter), clock)
    forged = minter.mint("c-1")[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(forged)
    assert verifier.cached_tokens == 0


@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_a_token_from_the_future_is_refused_by_the_verifiers_own_clock(claim: str) -> None:
    minter = TokenMinter()
    now = time.time()
    token = minter.mint("c-1", issued_at=int(now), ttl_seconds=7200)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims[claim] = int(now) + 3600
    forged = jwt.encode(claims, minter._key, algorithm="EdDSA", headers={"kid": minter.kid})
    verifier = TokenVerifier(
        CountingSource(minter),
        issuer="http://127.0.0.1:8000/identity/v1",
        audience="onevisit",
        clock=lambda: now,
    )
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)
    later = TokenVerifier(
        CountingSource(minter),
        issuer="http://127.0.0.1:8000/identity/v1",
        audience="onevisit",
        clock=lambda: now + 3600,
    )
    assert (await later.verify(forged)).sub == "c-1"


def claims_of(minter: TokenMinter, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": minter.issuer,
        "aud": minter.audience,
        "sub": "c-1",
        "typ": "citizen",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    ("claims", "header", "refused"),
    [
        ({"iss": "someone-else"}, {}, True),
        ({"iss": None}, {}, True),
        ({"aud": "another-audience"}, {}, True),
        ({"aud": ["another-audience", "onevisit"]}, {}, False),
        ({"aud": None}, {}, True),
        ({"typ": None}, {}, True),
        ({"iat": None}, {}, True),
        ({"typ": "alien"}, {}, True),
        ({"loa": 7}, {}, True),
        ({"exp": "tomorrow"}, {}, True),
        ({}, {"alg": "ES256"}, True),
        ({}, {"crit": ["exp"]}, True),
        ({}, {}, False),
    ],
)
async def test_only_well_formed_claims_of_the_right_issuer_and_audience_are_accepted(
    claims: dict[str, Any], header: dict[str, Any], refused: bool
) -> None:
    minter = TokenMinter()
    token = minter.sign(claims_of(minter, **claims), **header)
    verifier = verifier_for(CountingSource(minter))
    if refused:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    else:
        assert (await verifier.verify(token)).sub == "c-1"


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "!!!.e30.AAAA", "e30.!!!.AAAA", "W10.e30.AAAA"]
)
async def test_a_malformed_token_is_refused_as_invalid(token: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier_for(CountingSource(TokenMinter())).verify(token)


async def test_the_sign_in_session_is_read_from_the_sid_claim() -> None:
    minter = TokenMinter()
    token = minter.sign(claims_of(minter, sid="0190a000-0000-7000-8000-000000000001"))
    principal = await verifier_for(CountingSource(minter)).verify(token)
    assert principal.sid == "0190a000-0000-7000-8000-000000000001"
