"""How a client proves who it is at the token endpoint (RFC 6749 §2.3, OpenID Connect Core §9).

Each client has one method, registered with it (``OAuthClient.auth_method``), and must use it:

- ``client_secret_basic``: its secret, by HTTP Basic or as ``client_id`` and ``client_secret``
  fields (``client_secret_post``), never both;
- ``private_key_jwt`` (RFC 7523): a short JWT it signed with a key of its registered JWK Set,
  ``client_assertion_type`` ``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``: issued
  by the client about itself (``iss`` = ``sub`` = its id), for this token endpoint or its
  issuer (``aud``), expiring within ``client_assertion_max_seconds`` (``exp``), and used once
  (``jti``, remembered until it expires), so that an assertion seen in a log or a proxy is no
  credential;
- ``none``: a public client (the app, RFC 8252) names itself with ``client_id`` alone, and
  proves nothing: the grants it may use bind it otherwise (PKCE).

A request presenting another method than the client's, or none, is refused like a wrong secret,
and every refusal looks alike (401 ``invalid_client``): which check failed is no one's business
but the client's developer's, who has its own assertion to look at.
"""

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import jwt
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import OAuthClient
from identity_svc.oauth_clients.metadata import ASSERTION_KEY_KINDS

# The methods a client may be registered with (discovery's
# ``token_endpoint_auth_methods_supported`` adds ``client_secret_post``): defined with the rules
# of registration, and re-exported here where the token endpoint's readers look for them.
from identity_svc.oauth_clients.metadata import AUTH_METHODS as AUTH_METHODS
from identity_svc.oauth_clients.metadata import AuthMethod as AuthMethod
from identity_svc.runtime import Runtime
from identity_svc.tokens import repository
from identity_svc.tokens.schemas import TokenRequest
from identity_svc.tokens.service import InvalidClient, InvalidRequest

BASIC_CHALLENGE = 'Basic realm="onevisit"'
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The algorithms a client assertion may be signed with (discovery's
#: ``token_endpoint_auth_signing_alg_values_supported``).
ASSERTION_ALGORITHMS = tuple(ASSERTION_KEY_KINDS)
#: How far the client's clock may be from ours: an assertion a little early or late passes.
ASSERTION_CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class Presented:
    """What a token request presented to authenticate its client."""

    client_id: str | None
    client_secret: str | None = None
    #: Whether the secret came by HTTP Basic.
    basic: bool = False
    assertion: str | None = None


@dataclass(frozen=True)
class AuthenticatedClient:
    client: OAuthClient
    #: How it proved it: its registered method (``none`` proves nothing).
    method: AuthMethod
    #: The generation of the secret it used (client-secret clients only).
    secret_generation: int | None = None


def refused(detail: str) -> InvalidClient:
    return InvalidClient(detail, headers={"WWW-Authenticate": BASIC_CHALLENGE})


def presented(request: Request, form: TokenRequest) -> Presented:
    """The client's credentials as the request carries them: HTTP Basic, the form's secret, an
    assertion, or a bare ``client_id``; more than one way is refused (RFC 6749 §2.3)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    assertion = form.client_assertion or form.client_assertion_type
    if scheme.lower() == "basic":
        if form.client_secret or assertion:
            raise InvalidRequest("authenticate the client one way only")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise refused("the Basic credentials are malformed") from exc
        client_id, separator, client_secret = decoded.partition(":")
        if not separator:
            raise refused("the Basic credentials are malformed")
        client_id = unquote_plus(client_id)
        if form.client_id and form.client_id != client_id:
            raise InvalidRequest("client_id differs from the Basic credentials'")
        return Presented(client_id=client_id, client_secret=unquote_plus(client_secret), basic=True)
    if assertion:
        if form.client_secret:
            raise InvalidRequest("authenticate the client one way only")
        if form.client_assertion_type != JWT_BEARER_ASSERTION or not form.client_assertion:
            raise InvalidRequest(f"client_assertion_type must be {JWT_BEARER_ASSERTION}")
        return Presented(client_id=form.client_id, assertion=form.client_assertion)
    return Presented(client_id=form.client_id, client_secret=form.client_secret)


async def authenticate(
    *,
    session: AsyncSession,
    runtime: Runtime,
    presented: Presented,
    now: dt.datetime,
) -> AuthenticatedClient:
    """The client, proven by its registered method; ``InvalidClient`` for anything else, after
    the same work whether or not the client exists."""
    if presented.assertion is not None:
        return await _by_assertion(session, runtime, presented, presented.assertion, now=now)
    oauth_client = (
        await repository.client(session, presented.client_id) if presented.client_id else None
    )
    if oauth_client is not None and oauth_client.disabled_at is not None:
        oauth_client = None
    if presented.client_secret is None:
        if oauth_client is not None and oauth_client.auth_method == "none":
            return AuthenticatedClient(client=oauth_client, method="none")
        raise refused("authenticate the client with HTTP Basic or client_id and client_secret")
    if oauth_client is None or oauth_client.auth_method != "client_secret_basic":
        await runtime.passwords.verify_nobody(presented.client_secret)
        raise refused("unknown client or wrong secret")
    generation = await _secret_generation(runtime, oauth_client, presented.client_secret, now=now)
    if generation is None:
        raise refused("unknown client or wrong secret")
    return AuthenticatedClient(
        client=oauth_client, method="client_secret_basic", secret_generation=generation
    )


async def _secret_generation(
    runtime: Runtime, oauth_client: OAuthClient, client_secret: str, *, now: dt.datetime
) -> int | None:
    """The generation of the secret presented: the current one, or the previous one while a
    rotation's overlap lasts; None for a wrong secret."""
    current = oauth_client.secret_generation
    if oauth_client.secret_hash is None:
        await runtime.passwords.verify_nobody(client_secret)
        return None
    if await runtime.passwords.verify(oauth_client.secret_hash, client_secret):
        return current
    previous, until = oauth_client.previous_secret_hash, oauth_client.previous_secret_expires_at
    if previous is None or until is None or until <= now:
        return None
    return current - 1 if await runtime.passwords.verify(previous, client_secret) else None


async def _by_assertion(
    session: AsyncSession,
    runtime: Runtime,
    presented: Presented,
    assertion: str,
    *,
    now: dt.datetime,
) -> AuthenticatedClient:
    """``private_key_jwt`` (RFC 7523 §3, OpenID Connect Core §9): the client's signature with a
    key of its JWK Set, then the claims, then the ``jti`` spent. Times are checked against
    ``now`` (the runtime's clock), not PyJWT's."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise refused(_MALFORMED) from exc
    algorithm, client_id = header.get("alg"), unverified.get("iss")
    if not isinstance(algorithm, str) or algorithm not in ASSERTION_KEY_KINDS:
        raise refused(_MALFORMED)
    if not isinstance(client_id, str):
        raise refused(_MALFORMED)
    if presented.client_id is not None and presented.client_id != client_id:
        raise refused(_NOT_VALID)
    oauth_client = await repository.client(session, client_id)
    if (
        oauth_client is None
        or oauth_client.disabled_at is not None
        or oauth_client.auth_method != "private_key_jwt"
        or not oauth_client.jwks
    ):
        raise refused(_NOT_VALID)
    claims = _verified_claims(runtime, assertion, oauth_client.jwks, header, algorithm)
    if claims is None or not _claims_acceptable(runtime, claims, client_id, now=now):
        raise refused(_NOT_VALID)
    expires_at = dt.datetime.fromtimestamp(claims["exp"], dt.UTC) + dt.timedelta(
        seconds=ASSERTION_CLOCK_SKEW_SECONDS
    )
    await repository.forget_client_assertions(session, client_id=client_id, now=now)
    spent = await repository.spend_client_assertion(
        session, client_id=client_id, jti=claims["jti"], expires_at=expires_at
    )
    if not spent:
        raise refused(_NOT_VALID)
    # No secret, so no generation: its tokens carry no ``sgen``.
    return AuthenticatedClient(client=oauth_client, method="private_key_jwt")


_MALFORMED = "the client assertion is not a JWT signed with ES256, RS256, PS256 or EdDSA"
_NOT_VALID = "the client assertion is not valid"


def _verified_claims(
    runtime: Runtime,
    assertion: str,
    jwks: dict[str, Any],
    header: dict[str, Any],
    algorithm: str,
) -> dict[str, Any] | None:
    """The claims, if a key of the client's set fits the algorithm (its ``kid`` when the
    header names one) and verifies the signature; ``aud`` must name the token endpoint or the
    issuer. None otherwise."""
    kind = ASSERTION_KEY_KINDS[algorithm]
    kid = header.get("kid")
    issuer = runtime.settings.token_issuer
    for member in jwks.get("keys", []):
        fits = (member.get("kty"), member.get("crv")) == kind
        if not fits or member.get("alg", algorithm) != algorithm:
            continue
        if kid is not None and member.get("kid") != kid:
            continue
        try:
            key = jwt.PyJWK(member, algorithm=algorithm)
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key=key.key,
                algorithms=[algorithm],
                audience=[f"{issuer}/token", issuer],
                options={
                    "require": ["iss", "sub", "aud", "exp", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            continue
        return claims
    return None


def _claims_acceptable(
    runtime: Runtime, claims: dict[str, Any], client_id: str, *, now: dt.datetime
) -> bool:
    """The client about itself, a ``jti`` to spend, and a short life that includes now."""
    skew = ASSERTION_CLOCK_SKEW_SECONDS
    longest = runtime.settings.client_assertion_max_seconds
    jti = claims.get("jti")
    if claims["sub"] != client_id or not isinstance(jti, str) or not 1 <= len(jti) <= 128:
        return False
    moment = now.timestamp()
    expires = _seconds(claims.get("exp"))
    if expires is None or not moment - skew < expires <= moment + longest + skew:
        return False
    if "iat" in claims:
        issued = _seconds(claims["iat"])
        if issued is None or issued > moment + skew or expires - issued > longest:
            return False
    if "nbf" in claims:
        not_before = _seconds(claims["nbf"])
        return not_before is not None and not_before <= moment + skew
    return True


def _seconds(value: Any) -> float | None:
    """A NumericDate (RFC 7519 §2), or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
