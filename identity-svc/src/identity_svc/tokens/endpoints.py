"""The OAuth 2.0 token endpoint (RFC 6749 §3.2): form-encoded, one grant per request."""

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response

from identity_svc.runtime import RuntimeDep
from identity_svc.tokens import service
from identity_svc.tokens.schemas import TokenRequest, TokenResponse
from servicekit.db import SessionDep

router = APIRouter(prefix="/identity/v1", tags=["tokens"])

_BASIC_CHALLENGE = 'Basic realm="onevisit"'


@router.post("/token", response_model=TokenResponse, response_model_exclude_none=True)
async def token(
    form: Annotated[TokenRequest, Form()],
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """Exchange credentials for tokens (``application/x-www-form-urlencoded``):

    - ``grant_type=password``, ``username`` (the phone number), ``password``;
    - ``grant_type=refresh_token``, ``refresh_token``: the answer carries the next refresh
      token, and the one sent is spent (sending it again ends the session);
    - ``grant_type=client_credentials`` with the client's id and secret (HTTP Basic, or
      ``client_id`` and ``client_secret`` fields), optionally ``scope``.
    """
    # Tokens must not be cached by anything between here and the client (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    now = runtime.now()
    pair: service.SessionTokens | service.ClientToken
    if form.grant_type == "password":
        if not form.username or form.password is None:
            raise service.InvalidRequest("the password grant needs username and password")
        pair = await service.password_grant(
            session=session,
            runtime=runtime,
            username=form.username,
            password=form.password,
            now=now,
        )
    elif form.grant_type == "refresh_token":
        if not form.refresh_token:
            raise service.InvalidRequest("the refresh_token grant needs refresh_token")
        pair = await service.refresh_token_grant(
            session=session, runtime=runtime, refresh_token=form.refresh_token, now=now
        )
    elif form.grant_type == "client_credentials":
        client_id, client_secret = _client_credentials(request, form)
        try:
            pair = await service.client_credentials_grant(
                session=session,
                runtime=runtime,
                client_id=client_id,
                client_secret=client_secret,
                scope=form.scope,
                now=now,
            )
        except service.InvalidClient as exc:
            exc.headers.setdefault("WWW-Authenticate", _BASIC_CHALLENGE)
            raise
    elif not form.grant_type:
        raise service.InvalidRequest("grant_type is required")
    else:
        raise service.UnsupportedGrantType("supported: password, refresh_token, client_credentials")
    if isinstance(pair, service.ClientToken):
        return TokenResponse(
            access_token=pair.access_token, expires_in=pair.expires_in, scope=pair.scope
        )
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


def _client_credentials(request: Request, form: TokenRequest) -> tuple[str, str]:
    """The client's id and secret, from HTTP Basic (RFC 6749 §2.3.1) or the form, not both."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        if form.client_id or form.client_secret:
            raise service.InvalidRequest("authenticate the client one way only")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _basic_refused("the Basic credentials are malformed") from exc
        client_id, separator, client_secret = decoded.partition(":")
        if not separator:
            raise _basic_refused("the Basic credentials are malformed")
        return unquote_plus(client_id), unquote_plus(client_secret)
    if not form.client_id or not form.client_secret:
        raise service.InvalidClient(
            "authenticate the client with HTTP Basic or client_id and client_secret",
            headers={"WWW-Authenticate": _BASIC_CHALLENGE},
        )
    return form.client_id, form.client_secret


def _basic_refused(detail: str) -> service.InvalidClient:
    return service.InvalidClient(detail, headers={"WWW-Authenticate": _BASIC_CHALLENGE})
