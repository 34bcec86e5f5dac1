"""How a client proves who it is at the token endpoint (RFC 6749 §2.3, OpenID Connect Core §9).

Each client has one method, registered with it (``OAuthClient.auth_method``), and must use it:

- ``client_secret_basic``: its secret, by HTTP Basic or as ``client_id`` and ``client_secret``
  fields (``client_secret_post``), never both;
- ``private_key_jwt`` (RFC 7523): a short JWT it signed with a key of its registered JWK Set,
  ``client_assertion_type`` ``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``;
- ``none``: a public client (the app, RFC 8252) names itself with ``client_id`` alone, and
  proves nothing: the grants it may use bind it otherwise (PKCE).

A request presenting another method than the client's, or none, is refused like a wrong secret.
"""

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import OAuthClient
from identity_svc.runtime import Runtime
from identity_svc.tokens import repository
from identity_svc.tokens.schemas import TokenRequest
from identity_svc.tokens.service import InvalidClient, InvalidRequest

BASIC_CHALLENGE = 'Basic realm="onevisit"'
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

#: The methods a client may be registered with (discovery's
#: ``token_endpoint_auth_methods_supported`` adds ``client_secret_post``).
AuthMethod = Literal["client_secret_basic", "private_key_jwt", "none"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("client_secret_basic", "private_key_jwt", "none")


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
        return await _by_assertion(session, runtime, presented.assertion, now=now)
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
    session: AsyncSession, runtime: Runtime, assertion: str, *, now: dt.datetime
) -> AuthenticatedClient:
    """``private_key_jwt`` (RFC 7523 §3)."""
    raise refused("private_key_jwt is not accepted yet")
