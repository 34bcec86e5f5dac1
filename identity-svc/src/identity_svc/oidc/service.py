"""The rules of the OpenID Connect provider: one sign-in for every department's portal.

A client (a department's portal, or the platform's own app) sends the citizen's browser to
``/authorize`` (the authorization code flow, OIDC Core §3.1, with PKCE S256 only, RFC 7636).
The request is checked in two halves: until its client and exact redirect URI are known good,
a refusal is shown to the citizen and never sent anywhere (RFC 6749 §4.1.2.1); after, it goes
back to the client as ``error`` with ``state`` and ``iss`` (RFC 9207). A good request is held
(``AuthorizationRequest``) for the browser that made it, which then goes through the steps it
still needs (``next_step``): sign in, reach the level asked for (``acr_values`` and the scopes'
own), consent; then a code, single-use and short-lived, goes back to the client, which
exchanges it at the token endpoint for tokens and an ID token.

A sign-in at these pages signs the browser in (``BrowserSession``, a cookie) for every client
while it lasts, unless a client asks for a new one (``prompt=login``, ``max_age``). Consent is
asked once per client and remembered until she withdraws it; the platform's own app asks none.
"""

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import effective_loa, is_bound
from identity_svc.devices import Device
from identity_svc.models import (
    Account,
    AuthorizationCode,
    AuthorizationRequest,
    BrowserSession,
    Consent,
    OAuthClient,
)
from identity_svc.oidc import repository
from identity_svc.personal_data import mask_id_number, mask_name, mask_phone
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.tokens import repository as tokens_repository
from identity_svc.tokens.client_auth import AuthenticatedClient
from identity_svc.tokens.repository import SessionClient
from identity_svc.tokens.service import (
    InvalidGrant,
    InvalidRequest,
    SessionTokens,
    UnauthorizedClient,
    issue_session_tokens,
    token_hash,
)
from servicekit.auth import Principal, require_type
from servicekit.problems import Forbidden, NotFound, extension_members

#: ``acr`` values: the platform's levels of assurance (1 a password or SMS code, 2 a real name
#: bound by a face match, 3 a face match at this sign-in).
ACR_PREFIX = "urn:onevisit:loa:"
ACR_VALUES = tuple(f"{ACR_PREFIX}{level}" for level in (1, 2, 3))
#: The only PKCE method: ``plain`` gives the code's thief the verifier (RFC 9700 §2.1.1).
PKCE_METHOD = "S256"
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

Step = Literal["sign_in", "real_name", "face", "consent", "done"]


@dataclass(frozen=True)
class ScopeRule:
    name: str
    #: What the citizen is told on the consent page.
    description: str
    #: The claims it gives at userinfo.
    claims: tuple[str, ...]
    #: The level her sign-in must reach for a client to have it.
    min_loa: int


def _load_scopes(path: Path) -> dict[str, ScopeRule]:
    with path.open("rb") as source:
        return {
            rule["name"]: ScopeRule(
                name=rule["name"],
                description=rule["description"],
                claims=tuple(rule["claims"]),
                min_loa=rule["min_loa"],
            )
            for rule in tomllib.load(source)["scope"]
        }


#: The scopes a client may ask a citizen for (``scopes.toml`` beside this file).
SCOPES = _load_scopes(Path(__file__).with_name("scopes.toml"))
CLAIMS = tuple(dict.fromkeys(claim for rule in SCOPES.values() for claim in rule.claims))


class AuthorizationRefused(Exception):
    """An authorization request refused before its client and redirect URI are known good:
    told to the citizen, sent nowhere."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class AuthorizationError(Exception):
    """An authorization request refused back to its client (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


class ConsentNotFound(NotFound):
    code = "client_consent_not_found"
    title = "You have allowed this client nothing"


class NotThroughClient(Forbidden):
    code = "not_issued_to_a_client"
    title = "Userinfo answers tokens a client obtained with the openid scope"
    members = extension_members(
        error={
            "type": "string",
            "description": "The OAuth 2.0 error code (RFC 6750 §3.1)",
            "examples": ["insufficient_scope"],
        }
    )


def acr_of(loa: int) -> str:
    return f"{ACR_PREFIX}{loa}"


def level_asked(acr_values: str | None, scopes: Sequence[str]) -> int:
    """The level a request needs: the first of its ``acr_values`` the platform knows (they are
    in order of preference), at least what its scopes need; 1 when it names none."""
    level = 1
    for value in (acr_values or "").split():
        if value in ACR_VALUES:
            level = int(value.removeprefix(ACR_PREFIX))
            break
    return max([level, *(SCOPES[scope].min_loa for scope in scopes)])


def origin_of(uri: str) -> str:
    """What a page's Content-Security-Policy must allow a form to go to for a redirect to
    ``uri``: its origin, or its scheme alone for a private-use one (RFC 8252 §7.1)."""
    parts = urlsplit(uri)
    if parts.netloc:
        return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return f"{parts.scheme}:"


def with_query(uri: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({name: value for name, value in params.items() if value is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class AuthorizeParams:
    """An authorization request's parameters as sent (OIDC Core §3.1.2.1)."""

    response_type: str | None = None
    client_id: str | None = None
    redirect_uri: str | None = None
    scope: str | None = None
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    acr_values: str | None = None
    prompt: str | None = None
    max_age: str | None = None
    request: str | None = None
    request_uri: str | None = None
    response_mode: str | None = None


async def client_and_redirect(
    session: AsyncSession, params: AuthorizeParams
) -> tuple[OAuthClient, str]:
    """The request's client and redirect URI, once both are known good: a live client that
    signs citizens in, and one of its redirect URIs, character for character."""
    if not params.client_id:
        raise AuthorizationRefused("invalid_request", "client_id is missing")
    oauth_client = await tokens_repository.client(session, params.client_id)
    if oauth_client is None or oauth_client.disabled_at is not None:
        raise AuthorizationRefused("invalid_client", "no such client")
    if not oauth_client.redirect_uris:
        raise AuthorizationRefused("unauthorized_client", "this client does not sign citizens in")
    if not params.redirect_uri:
        raise AuthorizationRefused("invalid_request", "redirect_uri is missing")
    if params.redirect_uri not in oauth_client.redirect_uris:
        raise AuthorizationRefused(
            "invalid_request", "redirect_uri is not one this client registered"
        )
    return oauth_client, params.redirect_uri


async def hold_request(
    *,
    session: AsyncSession,
    runtime: Runtime,
    oauth_client: OAuthClient,
    redirect_uri: str,
    params: AuthorizeParams,
    browser_token: str,
    now: dt.datetime,
) -> AuthorizationRequest:
    """Check the rest of the request and hold it for the browser; ``AuthorizationError`` (to
    be sent back to the client) for anything wrong."""

    def refuse(error: str, description: str) -> AuthorizationError:
        return AuthorizationError(error, description, redirect_uri=redirect_uri, state=params.state)

    if params.request is not None or params.request_uri is not None:
        raise refuse(
            "request_not_supported" if params.request is not None else "request_uri_not_supported",
            "send the request's parameters in the query",
        )
    if params.response_type != "code":
        raise refuse("unsupported_response_type", "response_type must be code")
    if params.response_mode not in (None, "query"):
        raise refuse("invalid_request", "response_mode must be query")
    scopes = list(dict.fromkeys((params.scope or "").split()))
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise refuse("invalid_scope", f"unknown scopes: {' '.join(unknown)}")
    if "openid" not in scopes:
        raise refuse("invalid_scope", "scope must include openid")
    if not params.nonce:
        raise refuse("invalid_request", "nonce is required (it binds the ID token to the sign-in)")
    if params.code_challenge_method != PKCE_METHOD:
        raise refuse("invalid_request", "PKCE is required: code_challenge_method=S256")
    if not params.code_challenge or not _PKCE_CHALLENGE.fullmatch(params.code_challenge):
        raise refuse("invalid_request", "code_challenge must be S256's: 43 base64url characters")
    prompts = set((params.prompt or "").split())
    if "none" in prompts and len(prompts) > 1:
        raise refuse("invalid_request", "prompt=none goes alone")
    max_age = None
    if params.max_age is not None:
        if not params.max_age.isdigit() or len(params.max_age) > 9:
            raise refuse("invalid_request", "max_age is a number of seconds")
        max_age = int(params.max_age)
    for value, limit in ((params.state, 500), (params.nonce, 500)):
        if value is not None and len(value) > limit:
            raise refuse("invalid_request", "state and nonce are at most 500 characters")
    held = AuthorizationRequest(
        id=secrets.token_urlsafe(32),
        browser_hash=token_hash(browser_token),
        client_id=oauth_client.client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        state=params.state,
        nonce=params.nonce,
        code_challenge=params.code_challenge,
        loa=level_asked(params.acr_values, scopes),
        force_login="login" in prompts,
        force_consent="consent" in prompts,
        max_age=max_age,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=runtime.settings.authorization_request_ttl_seconds),
    )
    await repository.add(session, held)
    return held


async def held_request(
    session: AsyncSession, request_id: str, *, browser_token: str | None, now: dt.datetime
) -> AuthorizationRequest | None:
    """The request held for this browser, still open; None for anything else (another
    browser's, spent, expired, unknown: all look alike)."""
    held = await repository.request(session, request_id)
    if (
        held is None
        or browser_token is None
        or not hmac.compare_digest(held.browser_hash, token_hash(browser_token))
        or held.completed_at is not None
        or held.expires_at <= now
    ):
        return None
    return held


async def browser_session(
    session: AsyncSession, token: str | None, *, now: dt.datetime
) -> BrowserSession | None:
    if not token:
        return None
    found = await repository.browser_session(session, token_hash(token))
    if found is None or found.ended_at is not None or found.expires_at <= now:
        return None
    return found


async def next_step(
    session: AsyncSession,
    held: AuthorizationRequest,
    signed_in: BrowserSession | None,
    *,
    now: dt.datetime,
) -> tuple[Step, Account | None]:
    """What the request still needs in this browser, and whose sign-in it is."""
    if signed_in is None:
        return "sign_in", None
    if held.force_login and signed_in.auth_time < held.created_at:
        return "sign_in", None
    if held.max_age is not None and signed_in.auth_time < now - dt.timedelta(seconds=held.max_age):
        return "sign_in", None
    account = await accounts.get(session, signed_in.account_id)
    if account is None or account.disabled_at is not None:
        return "sign_in", None
    level = effective_loa(account, now=now)
    if level < held.loa:
        if level < 2 and account.claimed_id_number_sealed is None:
            return "real_name", account
        return "face", account
    oauth_client = await tokens_repository.client(session, held.client_id)
    if oauth_client is None or oauth_client.disabled_at is not None:
        return "sign_in", None
    if not oauth_client.first_party:
        consent = await repository.consent(session, account.id, held.client_id)
        allowed = set(consent.scopes.split()) if consent is not None else set()
        if held.force_consent or not set(held.scope.split()) <= allowed:
            return "consent", account
    return "done", account


async def sign_in_browser(
    *,
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    amr: str,
    current: BrowserSession | None,
    now: dt.datetime,
) -> tuple[BrowserSession, str | None]:
    """Record a proof of who she is in this browser: a new sign-in (its cookie token), or a
    further proof in the same one (a face match: None, the cookie stays). What expired of
    everyone's sign-ins, requests and codes is forgotten on the way (each by an index)."""
    ttl = dt.timedelta(seconds=runtime.settings.browser_session_ttl_seconds)
    await repository.forget_expired(session, now=now, codes_before=now - ttl)
    if current is not None and current.account_id == account.id and amr == "face":
        current.amr = [*dict.fromkeys([*current.amr, amr])]
        current.auth_time = now
        await repository.flush(session)
        return current, None
    if current is not None:
        current.ended_at = now  # another person signs in at this browser
    token = secrets.token_urlsafe(32)
    signed_in = BrowserSession(
        id=uuid.uuid4(),
        token_hash=token_hash(token),
        account_id=account.id,
        auth_time=now,
        amr=[amr],
        created_at=now,
        expires_at=now + dt.timedelta(seconds=runtime.settings.browser_session_ttl_seconds),
    )
    await repository.add(session, signed_in)
    return signed_in, token


async def consent(
    session: AsyncSession, account: Account, held: AuthorizationRequest, *, now: dt.datetime
) -> None:
    """She allows the client what it asked for, beside what she allowed it before."""
    await repository.grant_consent(session, account.id, held.client_id, held.scope.split(), now=now)


async def issue_code(
    *,
    session: AsyncSession,
    runtime: Runtime,
    held: AuthorizationRequest,
    signed_in: BrowserSession,
    now: dt.datetime,
) -> str:
    """A code for the client (its redirect URI, to be sent with ``state`` and ``iss``); the
    request is spent."""
    code = secrets.token_urlsafe(32)
    held.completed_at = now
    await repository.add(
        session,
        AuthorizationCode(
            code_hash=token_hash(code),
            client_id=held.client_id,
            account_id=signed_in.account_id,
            redirect_uri=held.redirect_uri,
            scope=held.scope,
            nonce=held.nonce,
            code_challenge=held.code_challenge,
            auth_time=signed_in.auth_time,
            amr=list(signed_in.amr),
            browser_session_id=signed_in.id,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=runtime.settings.authorization_code_ttl_seconds),
        ),
    )
    return code


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CodeTokens:
    tokens: SessionTokens
    id_token: str
    scope: str


async def exchange_code(
    *,
    session: AsyncSession,
    runtime: Runtime,
    client: AuthenticatedClient,
    code: str,
    redirect_uri: str | None,
    code_verifier: str | None,
    device: Device,
    now: dt.datetime,
) -> CodeTokens:
    """The authorization_code grant: tokens and an ID token for the code's citizen, to the
    client it was issued to, with the redirect URI and the PKCE verifier of its request. A code
    presented a second time is refused, and the session its first exchange started ends."""
    oauth_client = client.client
    if not oauth_client.redirect_uris:
        raise UnauthorizedClient("this client does not sign citizens in")
    if not code_verifier:
        raise InvalidRequest("the authorization_code grant needs code_verifier (PKCE)")
    if not _PKCE_VERIFIER.fullmatch(code_verifier):
        raise InvalidRequest("code_verifier is 43 to 128 unreserved characters")
    issued = await repository.spend_code(session, token_hash(code), now=now)
    if issued is None:
        raise await _unspendable(session, runtime, token_hash(code), now=now)
    if issued.client_id != oauth_client.client_id:
        raise InvalidGrant("the code was issued to another client")
    if redirect_uri != issued.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request's")
    if not hmac.compare_digest(pkce_challenge(code_verifier), issued.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
    account = await accounts.get(session, issued.account_id)
    if account is None:
        raise InvalidGrant("the code's account no longer exists")
    session_client = SessionClient(
        client_id=oauth_client.client_id,
        scope=None if oauth_client.first_party else issued.scope,
    )
    tokens = await issue_session_tokens(
        session=session,
        runtime=runtime,
        account=account,
        device=device,
        now=now,
        client=session_client,
    )
    issued.login_session_id = tokens.session_id
    id_token = await id_token_for(
        runtime,
        account,
        issued,
        access_token=tokens.access_token,
        now=now,
    )
    return CodeTokens(tokens=tokens, id_token=id_token, scope=issued.scope)


async def _unspendable(
    session: AsyncSession, runtime: Runtime, code_hash: str, *, now: dt.datetime
) -> InvalidGrant:
    """Why a code could not be spent. A spent one presented again may be a stolen copy: the
    session its exchange started ends, in a transaction of its own (the refusal undoes the
    request's)."""
    await session.rollback()
    presented = await repository.code(session, code_hash)
    if presented is None:
        return InvalidGrant("the code is not known")
    if presented.used_at is not None:
        if presented.login_session_id is not None:
            async with runtime.outcomes.begin() as outcomes:
                ended = await tokens_repository.revoke_family(
                    outcomes, presented.login_session_id, now=now
                )
                await revocations.end_session_tokens(outcomes, runtime, ended, now=now)
        return InvalidGrant("the code was already used; the tokens it gave are revoked")
    return InvalidGrant("the code has expired")


async def id_token_for(
    runtime: Runtime,
    account: Account,
    issued: AuthorizationCode,
    *,
    access_token: str,
    now: dt.datetime,
) -> str:
    """The ID token (OIDC Core §2): who signed in, to which client, when, how and at which
    level (``acr``), bound to the request's ``nonce`` and to the access token (``at_hash``).
    Signed with the key access tokens are; it names the client as its audience, so no service
    takes it for an access token. Personal data stays at userinfo."""
    settings = runtime.settings
    iat = int(now.timestamp())
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "sub": str(account.id),
        "aud": issued.client_id,
        "azp": issued.client_id,
        "iat": iat,
        "exp": iat + settings.access_token_ttl_seconds,
        "auth_time": int(issued.auth_time.timestamp()),
        "acr": acr_of(effective_loa(account, now=now)),
        "amr": list(issued.amr),
        "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii"),
    }
    if issued.nonce is not None:
        claims["nonce"] = issued.nonce
    if issued.browser_session_id is not None:
        claims["sid"] = str(issued.browser_session_id)
    return await runtime.keys.sign(claims, now=now)


async def userinfo(
    *, session: AsyncSession, runtime: Runtime, principal: Principal
) -> dict[str, Any]:
    """The claims her token's scopes give its client (OIDC Core §5.3): masked unless the
    client has ``id_number``, which needs the token to be of level 3."""
    require_type(principal, "citizen")
    scopes = set(principal.scope)
    if principal.client_id is None or "openid" not in scopes or principal.act is not None:
        raise NotThroughClient(
            "send an access token a client obtained with the openid scope",
            error="insufficient_scope",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="openid"'},
        )
    account = await accounts.get(session, uuid.UUID(principal.sub))
    if account is None or account.disabled_at is not None:
        raise NotThroughClient(
            "the token's account signs in no more",
            error="invalid_token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    personal = runtime.personal_data
    claims: dict[str, Any] = {"sub": str(account.id)}
    bound = is_bound(account)
    name = id_number = None
    if bound and account.name_sealed is not None and account.id_number_sealed is not None:
        name = personal.unseal("name", account.name_sealed, account_id=account.id)
        id_number = personal.unseal("id_number", account.id_number_sealed, account_id=account.id)
    if "profile" in scopes:
        claims["real_name_verified"] = bound
        claims["loa"] = principal.loa
        if name is not None:
            claims["name_masked"] = mask_name(name)
    if "phone" in scopes:
        phone = personal.unseal("phone", account.phone_sealed, account_id=account.id)
        claims["phone_number_masked"] = mask_phone(phone)
        claims["phone_number_verified"] = True
    if "id_number" in scopes and name is not None and id_number is not None:
        claims["id_number_masked"] = mask_id_number(id_number)
        if principal.loa >= SCOPES["id_number"].min_loa:
            claims["name"] = name
            claims["id_number"] = id_number
    return claims


async def verified_id_token_hint(runtime: Runtime, hint: str) -> dict[str, Any] | None:
    """The claims of an ID token this provider signed (expired or not: a logout comes after);
    None for anything else."""
    try:
        header = jwt.get_unverified_header(hint)
        keys = jwt.PyJWKSet.from_dict(await runtime.keys.jwks_document())
        key = next(key for key in keys.keys if key.key_id == header.get("kid"))
        claims: dict[str, Any] = jwt.decode(
            hint,
            key=key.key,
            algorithms=[key.algorithm_name],
            issuer=runtime.settings.token_issuer,
            options={"verify_exp": False, "verify_aud": False, "require": ["sub", "aud"]},
        )
    except (jwt.PyJWTError, StopIteration, ValueError):
        return None
    return claims


async def end_browser_session(
    *, session: AsyncSession, runtime: Runtime, signed_in: BrowserSession, now: dt.datetime
) -> None:
    """Sign the browser out: its sign-in ends, and so do the sessions its codes started at
    every client (their refresh tokens stop, their access tokens go on the revocation list)."""
    signed_in.ended_at = now
    for family_id in await repository.sessions_started_by(session, signed_in.id):
        ended = await tokens_repository.revoke_family(session, family_id, now=now)
        await revocations.end_session_tokens(session, runtime, ended, now=now)


async def withdraw_consent(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    client_id: str,
    now: dt.datetime,
) -> None:
    """She withdraws what she allowed a client: the client's sessions of hers end with it."""
    _herself(principal)
    account_id = uuid.UUID(principal.sub)
    if not await repository.withdraw_consent(session, account_id, client_id):
        raise ConsentNotFound()
    for family_id in await repository.client_sessions(session, account_id, client_id):
        ended = await tokens_repository.revoke_family(session, family_id, now=now)
        await revocations.end_session_tokens(session, runtime, ended, now=now)


async def consents(*, session: AsyncSession, principal: Principal) -> Sequence[Consent]:
    """What she allowed each client."""
    _herself(principal)
    return await repository.consents_of(session, uuid.UUID(principal.sub))


class DelegateCannotConsent(Forbidden):
    code = "delegate_cannot_consent"
    title = "What a citizen allows the portals she signs in to is hers alone to see and change"


def _herself(principal: Principal) -> None:
    require_type(principal, "citizen")
    if principal.act is not None:
        raise DelegateCannotConsent()
