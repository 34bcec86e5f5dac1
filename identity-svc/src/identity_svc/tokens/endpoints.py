"""The OAuth 2.0 token endpoint (RFC 6749 §3.2): form-encoded, one grant per request."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from identity_svc.delegations import service as delegations
from identity_svc.delegations.service import (
    ChainedDelegationRefused,
    DelegationExpired,
    DelegationRevoked,
    DelegationScopeExceeded,
    ExchangeDelegationNotFound,
    InvalidActorToken,
)
from identity_svc.deps import StateDep
from identity_svc.devices import DeviceDep
from identity_svc.enterprises import service as enterprises
from identity_svc.enterprises.service import (
    AuthorisationUnconfirmed,
    NotEnterpriseMember,
    RepresentationEnded,
)
from identity_svc.oidc import service as oidc
from identity_svc.runtime import Runtime
from identity_svc.sms import service as sms
from identity_svc.tokens import client_auth, service
from identity_svc.tokens.schemas import (
    LogoutRequest,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
)
from identity_svc.tokens.service import (
    AccountDisabled,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    LoginThrottled,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.problems import MalformedBody, UpstreamUnavailable, ValidationFailed

router = APIRouter(prefix="/identity/v1", tags=["tokens"])

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


@router.post(
    "/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(
        InvalidRequest,
        UnsupportedGrantType,
        InvalidGrant,
        AccountDisabled,
        InvalidClient,
        InvalidScope,
        UnauthorizedClient,
        LoginThrottled,
        InvalidActorToken,
        ChainedDelegationRefused,
        ExchangeDelegationNotFound,
        DelegationRevoked,
        DelegationExpired,
        DelegationScopeExceeded,
        NotEnterpriseMember,
        RepresentationEnded,
        AuthorisationUnconfirmed,
        UpstreamUnavailable,
    ),
)
async def token(
    form: Annotated[TokenRequest, Form()],
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    device: DeviceDep,
) -> TokenResponse:
    """Exchange credentials for tokens (``application/x-www-form-urlencoded``):

    - ``grant_type=password``, ``username`` (the phone number), ``password``;
    - ``grant_type=sms_code``, ``username`` (the phone number), ``code`` (sent by
      ``POST /identity/v1/sms-codes``; a grant of this platform's own, not of RFC 6749): a
      phone without an account is registered by it (an account without a password), with the
      same answer;
    - ``grant_type=refresh_token``, ``refresh_token``: the answer carries the next refresh
      token, and the one sent is spent (sending it again ends the session);
    - ``grant_type=client_credentials`` with the client's id and secret (HTTP Basic, or
      ``client_id`` and ``client_secret`` fields), optionally ``scope``;
    - ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693), ``subject``
      (a delegation id, or the principal's account id) and ``actor_token`` (the delegate's own
      access token), optionally ``scope`` (item codes within the delegation's): a short
      access token for the principal carrying ``act``, and no refresh token. With an
      enterprise's unified social credit code as ``subject`` and the access token of its legal
      representative or an authorised employee as ``actor_token``: a short access token for the
      enterprise (``typ`` enterprise, ``sub`` the credit code, ``act`` the citizen).
    """
    # Tokens must not be cached by anything between here and the client (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    runtime = state.runtime
    now = runtime.now()
    pair: service.SessionTokens | service.ClientToken | delegations.DelegatedToken
    if form.grant_type == "password" and runtime.settings.password_grant_on:
        if not form.username or form.password is None:
            raise service.InvalidRequest("the password grant needs username and password")
        pair = await service.password_grant(
            session=session,
            runtime=runtime,
            username=form.username,
            password=form.password,
            device=device,
            now=now,
        )
    elif form.grant_type == "sms_code":
        if not form.username or not form.code:
            raise service.InvalidRequest("the sms_code grant needs username and code")
        pair = await sms.sms_code_grant(
            session=session,
            runtime=runtime,
            username=form.username,
            code=form.code,
            device=device,
            now=now,
        )
    elif form.grant_type == "refresh_token":
        if not form.refresh_token:
            raise service.InvalidRequest("the refresh_token grant needs refresh_token")
        client_id = None
        credentials = client_auth.presented(request, form)
        if credentials.client_id is not None or credentials.assertion is not None:
            authenticated = await client_auth.authenticate(
                session=session, runtime=runtime, presented=credentials, now=now
            )
            client_id = authenticated.client.client_id
        pair = await service.refresh_token_grant(
            session=session,
            runtime=runtime,
            refresh_token=form.refresh_token,
            client_id=client_id,
            device=device,
            now=now,
        )
    elif form.grant_type == "authorization_code":
        if not form.code:
            raise service.InvalidRequest("the authorization_code grant needs code")
        client = await client_auth.authenticate(
            session=session,
            runtime=runtime,
            presented=client_auth.presented(request, form),
            now=now,
        )
        issued = await oidc.exchange_code(
            session=session,
            runtime=runtime,
            client=client,
            code=form.code,
            redirect_uri=form.redirect_uri,
            code_verifier=form.code_verifier,
            device=device,
            now=now,
        )
        return TokenResponse(
            access_token=issued.tokens.access_token,
            expires_in=issued.tokens.expires_in,
            refresh_token=issued.tokens.refresh_token,
            scope=issued.scope,
            id_token=issued.id_token,
        )
    elif form.grant_type == "client_credentials":
        client = await client_auth.authenticate(
            session=session,
            runtime=runtime,
            presented=client_auth.presented(request, form),
            now=now,
        )
        pair = await service.client_credentials_grant(
            runtime=runtime, client=client, scope=form.scope, now=now
        )
    elif form.grant_type == TOKEN_EXCHANGE:
        if not form.subject or not form.actor_token:
            raise service.InvalidRequest("the token exchange needs subject and actor_token")
        if form.actor_token_type not in (None, delegations.ACCESS_TOKEN_TYPE):
            raise service.InvalidRequest(
                f"actor_token_type must be {delegations.ACCESS_TOKEN_TYPE}"
            )
        verifier = state.token_verifier
        if enterprises.names_enterprise(form.subject):
            pair = await enterprises.exchange(
                session=session,
                runtime=runtime,
                http=state.http,
                verifier=verifier,
                credit_code=form.subject,
                actor_token=form.actor_token,
                now=now,
            )
        else:
            pair = await delegations.exchange(
                session=session,
                runtime=runtime,
                verifier=verifier,
                subject=form.subject,
                actor_token=form.actor_token,
                scope=form.scope,
                now=now,
            )
    elif not form.grant_type:
        raise service.InvalidRequest("grant_type is required")
    else:
        raise service.UnsupportedGrantType(f"supported: {', '.join(_grant_types(runtime))}")
    if isinstance(pair, delegations.DelegatedToken):
        return TokenResponse(
            access_token=pair.access_token,
            expires_in=pair.expires_in,
            scope=pair.scope,
            issued_token_type=delegations.ACCESS_TOKEN_TYPE,
        )
    if isinstance(pair, service.ClientToken):
        return TokenResponse(
            access_token=pair.access_token, expires_in=pair.expires_in, scope=pair.scope
        )
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        scope=pair.scope,
    )


_LOGOUT_BODY = {
    "required": True,
    "content": {
        media_type: {
            "schema": LogoutRequest.model_json_schema(),
            "example": {"refresh_token": "rt_9f8Jx2kQ4mV7pL1sT6wZ3bN5cR8yH0dA"},
        }
        for media_type in ("application/x-www-form-urlencoded", "application/json")
    },
}


async def _logout_request(request: Request) -> LogoutRequest:
    """The body as a form (as RFC 7009 sends it) or as JSON."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if media_type == "application/json":
            return LogoutRequest.model_validate_json(await request.body())
        form = await request.form()
        return LogoutRequest.model_validate(
            {name: value for name, value in form.items() if isinstance(value, str)}
        )
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedBody("the body is not JSON") from exc
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(InvalidRequest, MalformedBody, ValidationFailed),
    openapi_extra={"requestBody": _LOGOUT_BODY},
)
async def logout(
    form: Annotated[LogoutRequest, Depends(_logout_request)],
    session: SessionDep,
    state: StateDep,
) -> Response:
    """End the session of a refresh token: ``refresh_token``, form-encoded or as JSON, and no
    access token needed (one that has expired cannot stop a logout). Every refresh token of
    the session stops working, and its access tokens are refused within seconds (the
    revocation list). Answers 204 whether or not the token was known (RFC 7009 §2.2)."""
    if not form.refresh_token:
        raise service.InvalidRequest("logout needs refresh_token")
    runtime = state.runtime
    await service.revoke(
        session=session,
        runtime=runtime,
        verifier=state.token_verifier,
        token=form.refresh_token,
        token_type_hint="refresh_token",
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/revoke",
    response_class=Response,
    responses={
        **problem_responses(InvalidRequest),
        200: {"description": "Revoked, or nothing to revoke (no body)", "content": {}},
    },
)
async def revoke(
    form: Annotated[RevokeRequest, Form()], session: SessionDep, state: StateDep
) -> Response:
    """OAuth 2.0 token revocation (RFC 7009), form-encoded: ``token`` (a refresh token, or an
    access token of a session), optionally ``token_type_hint``. Ends the token's session, as
    logout does. Answers 200 with no body whether or not the token was known (§2.2), including
    client tokens, which end with their client."""
    if not form.token:
        raise service.InvalidRequest("revocation needs token")
    runtime = state.runtime
    await service.revoke(
        session=session,
        runtime=runtime,
        verifier=state.token_verifier,
        token=form.token,
        token_type_hint=form.token_type_hint,
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_200_OK, headers={"Cache-Control": "no-store"})


def _grant_types(runtime: Runtime) -> list[str]:
    grants = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "sms_code",
        TOKEN_EXCHANGE,
    ]
    return [*grants, "password"] if runtime.settings.password_grant_on else grants
