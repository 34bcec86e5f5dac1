"""The access tokens identity-svc refuses: one table of forgeries and faults, each presented both
to the service's own verifier and to a protected endpoint.

The two other refusals the platform requires live beside the rules they guard: a replayed refresh
token (``test_tokens.py::test_reusing_a_spent_refresh_token_revokes_the_whole_session``) and a
reused face challenge (``test_face.py::test_a_reused_challenge_is_refused``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from identity_svc.runtime import Runtime
from servicekit.auth import InvalidToken, TokenExpired, TokenVerifier
from servicekit.problems import Unauthenticated
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
#: Makes the token to present from valid claims, the service's signing function and its kid.
Forge = Callable[[dict[str, Any], Callable[[dict[str, Any]], str], str], str]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsigned(claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})


def unknown_kid(claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str) -> str:
    return jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "no-such-key"}
    )


def published_kid_of_another_key(
    claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str
) -> str:
    other = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, other, algorithm="ES256", headers={"kid": kid})


def no_kid(claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str) -> str:
    header, payload, signature = sign(claims).split(".")
    bare = json.loads(_b64url_decode(header))
    del bare["kid"]
    return ".".join((_b64url(json.dumps(bare).encode()), payload, signature))


def tampered_payload(
    claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str
) -> str:
    header, _payload, signature = sign(claims).split(".")
    raised = {**claims, "loa": 3}
    return ".".join((header, _b64url(json.dumps(raised).encode()), signature))


def with_claims(**changes: Any) -> Forge:
    """Signed with the service's real key, with claims changed (``None`` removes one)."""

    def forge(claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str) -> str:
        changed = {**claims, **changes}
        return sign({name: value for name, value in changed.items() if value is not None})

    return forge


def shifted(seconds: int) -> Forge:
    """Signed with the real key, issued ``seconds`` from now (negative: in the past)."""

    def forge(claims: dict[str, Any], sign: Callable[[dict[str, Any]], str], kid: str) -> str:
        return sign({**claims, "iat": claims["iat"] + seconds, "exp": claims["exp"] + seconds})

    return forge


NOW = int(time.time())

REFUSED: list[tuple[str, Forge, type[Unauthenticated], str]] = [
    ("alg_none", unsigned, InvalidToken, "invalid_token"),
    ("unknown_kid", unknown_kid, InvalidToken, "invalid_token"),
    ("published_kid_other_key", published_kid_of_another_key, InvalidToken, "invalid_token"),
    ("no_kid", no_kid, InvalidToken, "invalid_token"),
    ("tampered_payload", tampered_payload, InvalidToken, "invalid_token"),
    ("expired", shifted(-1200), TokenExpired, "token_expired"),
    ("nbf_in_the_future", with_claims(nbf=NOW + 600), InvalidToken, "invalid_token"),
    ("iat_far_in_the_future", shifted(3600), InvalidToken, "invalid_token"),
    ("other_issuer", with_claims(iss="someone-else"), InvalidToken, "invalid_token"),
    ("no_issuer", with_claims(iss=None), InvalidToken, "invalid_token"),
    ("other_audience", with_claims(aud="another-platform"), InvalidToken, "invalid_token"),
    ("no_audience", with_claims(aud=None), InvalidToken, "invalid_token"),
    ("no_expiry", with_claims(exp=None), InvalidToken, "invalid_token"),
    ("loa_out_of_range", with_claims(loa=7), InvalidToken, "invalid_token"),
]


@pytest.fixture
async def valid_claims(journey: Journey) -> dict[str, Any]:
    """The claims of a token identity-svc just issued to a registered citizen, re-timed to now
    by the wall clock (the verifier's clock)."""
    issued = await journey.login(await journey.register())
    assert issued.status_code == 200, issued.text
    claims: dict[str, Any] = jwt.decode(
        issued.json()["access_token"], options={"verify_signature": False}
    )
    now = int(time.time())
    return {**claims, "iat": now, "exp": now + 600}


async def _presented(app: FastAPI, valid_claims: dict[str, Any], forge: Forge) -> str:
    runtime: Runtime = app.state.service.runtime
    kid = await runtime.keys.load(now=runtime.now())

    def sign(claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            runtime.keys._signer.private_key,
            algorithm=runtime.keys._signer.algorithm,
            headers={"kid": kid},
        )

    return forge(valid_claims, sign, kid)


async def test_the_genuine_claims_are_accepted(
    app: FastAPI, client: httpx.AsyncClient, valid_claims: dict[str, Any]
) -> None:
    """The table's baseline: untouched, the same claims pass, so each refusal is the fault's."""
    token = await _presented(app, valid_claims, with_claims())
    verifier: TokenVerifier = app.state.service.token_verifier
    assert (await verifier.verify(token)).sub == valid_claims["sub"]
    assert (await client.get("/identity/v1/me", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("forge", "error", "code"),
    [pytest.param(forge, error, code, id=name) for name, forge, error, code in REFUSED],
)
async def test_a_forged_or_faulty_access_token_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    valid_claims: dict[str, Any],
    problem: Problem,
    forge: Forge,
    error: type[Unauthenticated],
    code: str,
) -> None:
    token = await _presented(app, valid_claims, forge)
    verifier: TokenVerifier = app.state.service.token_verifier
    with pytest.raises(error):
        await verifier.verify(token)
    response = await client.get("/identity/v1/me", headers=bearer(token))
    problem(response, 401, code)
    assert code in response.headers["www-authenticate"]
