"""The OpenID Connect provider's API: discovery (OIDC Discovery 1.0, RFC 8414), userinfo, the
citizen's consents, and RP-initiated logout."""

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from identity_svc.deps import RuntimeDep, StateDep
from identity_svc.oidc import service
from identity_svc.oidc.pages import BROWSER_COOKIE, COOKIE_PATH, SESSION_COOKIE, page
from identity_svc.oidc.schemas import ConsentList, ConsentRead, ProviderMetadata, UserInfo
from identity_svc.oidc.service import (
    ACR_VALUES,
    CLAIMS,
    SCOPES,
    ConsentNotFound,
    DelegateCannotConsent,
    NotThroughClient,
)
from identity_svc.tokens import repository as tokens_repository
from identity_svc.tokens.client_auth import AUTH_METHODS
from servicekit.auth import PrincipalDep, WrongPrincipalType, requires_scopes
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1", tags=["openid connect"])

#: The grants the token endpoint takes (the password grant only where it is switched on).
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange",
)
SIGNING_ALGORITHMS = ["ES256", "EdDSA"]
CLIENT_ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"]


def metadata(issuer: str, *, password_grant: bool) -> ProviderMetadata:
    """The provider's metadata: where each endpoint is and what it supports."""
    methods = [*AUTH_METHODS, "client_secret_post"]
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/token",
        userinfo_endpoint=f"{issuer}/userinfo",
        jwks_uri=f"{issuer}/.well-known/jwks.json",
        end_session_endpoint=f"{issuer}/end-session",
        revocation_endpoint=f"{issuer}/revoke",
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=[*GRANT_TYPES, *(["password"] if password_grant else [])],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=SIGNING_ALGORITHMS,
        token_endpoint_auth_methods_supported=methods,
        token_endpoint_auth_signing_alg_values_supported=CLIENT_ASSERTION_ALGORITHMS,
        revocation_endpoint_auth_methods_supported=["none"],
        code_challenge_methods_supported=[service.PKCE_METHOD],
        acr_values_supported=list(ACR_VALUES),
        claims_supported=["iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", *CLAIMS],
        prompt_values_supported=["none", "login", "consent"],
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        authorization_response_iss_parameter_supported=True,
        ui_locales_supported=["zh-CN"],
    )


@router.get("/.well-known/openid-configuration", response_model=ProviderMetadata)
async def openid_configuration(runtime: RuntimeDep, response: Response) -> ProviderMetadata:
    """OpenID Connect discovery: the provider's metadata, which is also its OAuth 2.0
    authorization server metadata (RFC 8414). Cache it for an hour."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    settings = runtime.settings
    return metadata(settings.token_issuer, password_grant=settings.password_grant_on)


@router.get("/.well-known/oauth-authorization-server", response_model=ProviderMetadata)
async def authorization_server_metadata(
    runtime: RuntimeDep, response: Response
) -> ProviderMetadata:
    """The same metadata under RFC 8414's name, for OAuth 2.0 clients that look for it
    beside the issuer's path."""
    return await openid_configuration(runtime, response)


_USERINFO_RESPONSES = problem_responses(NotThroughClient, WrongPrincipalType)


@router.get(
    "/userinfo",
    dependencies=[requires_scopes("openid")],
    response_model=UserInfo,
    response_model_exclude_none=True,
    responses=_USERINFO_RESPONSES,
)
async def userinfo(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> Any:
    """Who signed in, as much as the token's scopes give its client (OIDC Core §5.3): ``sub``
    always; ``profile`` her real-name status and masked name; ``phone`` her masked number;
    ``id_number`` her full name and ID number, for a token of level 3. Needs an access token a
    client obtained by the authorization code flow with ``openid``."""
    return await service.userinfo(session=session, runtime=runtime, principal=principal)


@router.post(
    "/userinfo",
    dependencies=[requires_scopes("openid")],
    response_model=UserInfo,
    response_model_exclude_none=True,
    responses=_USERINFO_RESPONSES,
)
async def userinfo_by_post(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Any:
    """As ``GET /identity/v1/userinfo`` (OIDC Core §5.3.1 allows both)."""
    return await service.userinfo(session=session, runtime=runtime, principal=principal)


@router.get(
    "/me/consents",
    response_model=ConsentList,
    responses=problem_responses(DelegateCannotConsent, WrongPrincipalType),
)
async def my_consents(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> ConsentList:
    """What she allowed each department's portal to know of her when signing in there."""
    consents = await service.consents(session=session, principal=principal)
    items = []
    for consent in consents:
        oauth_client = await tokens_repository.client(session, consent.client_id)
        scopes = consent.scopes.split()
        items.append(
            ConsentRead(
                client_id=consent.client_id,
                client_name=oauth_client.name if oauth_client is not None else consent.client_id,
                scopes=scopes,
                descriptions=[SCOPES[name].description for name in scopes if name in SCOPES],
                granted_at=consent.granted_at,
            )
        )
    return ConsentList(items=items)


@router.delete(
    "/me/consents/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(ConsentNotFound, DelegateCannotConsent, WrongPrincipalType),
)
async def withdraw_consent(
    client_id: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Withdraw what she allowed a portal: it asks again at her next sign-in there, and its
    sessions of hers end now (their tokens are refused within seconds)."""
    await service.withdraw_consent(
        session=session,
        runtime=runtime,
        principal=principal,
        client_id=client_id[:64],
        now=runtime.now(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/end-session", include_in_schema=False)
async def end_session(request: Request, session: SessionDep, state: StateDep) -> Response:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the browser's sign-in
    ends, with the sessions it gave every client. Back to ``post_logout_redirect_uri`` (with
    ``state``) when it is one the client registered and an ``id_token_hint`` of ours names the
    client; else a page saying she is signed out."""
    runtime = state.runtime
    now = runtime.now()
    query = request.query_params
    signed_in = await service.browser_session(session, request.cookies.get(SESSION_COOKIE), now=now)
    claims = None
    hint = query.get("id_token_hint")
    if hint and len(hint) <= 8192:
        claims = await service.verified_id_token_hint(runtime, hint)
    if signed_in is not None and (claims is None or claims.get("sub") == str(signed_in.account_id)):
        await service.end_browser_session(
            session=session, runtime=runtime, signed_in=signed_in, now=now
        )
    target = query.get("post_logout_redirect_uri")
    response: Response
    if target and claims is not None:
        client_id = claims.get("aud")
        client_id = client_id[0] if isinstance(client_id, list) and client_id else client_id
        asked = query.get("client_id")
        oauth_client = (
            await tokens_repository.client(session, client_id)
            if isinstance(client_id, str) and (asked is None or asked == client_id)
            else None
        )
        if oauth_client is not None and target in oauth_client.post_logout_redirect_uris:
            state_param = query.get("state")
            response = RedirectResponse(
                service.with_query(target, {"state": state_param[:500] if state_param else None}),
                status_code=303,
            )
        else:
            response = page("signed_out.html", title="已退出登录")
    else:
        response = page("signed_out.html", title="已退出登录")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    response.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
    return response
