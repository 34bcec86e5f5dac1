"""The rules of the token endpoint and of the tokens themselves.

Grants (RFC 6749): ``password`` (phone + password), ``refresh_token`` (rotated on every use:
presenting a spent one revokes its whole session, RFC 9700 §4.14.2) and ``client_credentials``
(department systems and internal services). Every refusal is a problem with the OAuth
``error`` member beside the problem ``code``.

A wrong password, an unknown phone and an account without a password (signed up by an SMS
code) answer alike, after the same argon2 work.

Login throttling slows, never locks. A failed sign-in (a wrong password or SMS code, a wrong
code at registration, a wrong current password when changing it) counts against three rules at once
(``IdentitySettings.login_throttling``): the login name from this client address, the login name
from anywhere, and the address at any login name. Past a rule's free failures, the next attempt
waits after the latest failure, the wait doubling with each failure up to the rule's longest;
an attempt made sooner is refused before any password is checked (429 ``login_throttled`` with
``Retry-After``) and is not counted. Attempts at one login name are checked one at a time
(``Runtime.sign_in_attempt``), so that guesses sent at once do not all pass before one counts.
An address the account signed in from lately is the owner's: only its own failures slow it, so
failures from elsewhere cannot keep her out, and a sign-in forgets its own. The counts are keyed
hashes of login names, registered or not, and of addresses (the gateway's,
``servicekit.forwarding``): throttling reveals no registration and stores no phone number or
address.
"""

import datetime as dt
import hashlib
import math
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import effective_loa, has_password
from identity_svc.devices import Device
from identity_svc.models import Account, LoginFailure, LoginSession, OAuthClient
from identity_svc.passwords import Passwords
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.settings import ThrottledBy
from identity_svc.tokens import repository
from identity_svc.tokens.repository import SessionClient
from servicekit.auth import Principal, TokenVerifier
from servicekit.ids import new_id
from servicekit.problems import DomainError, Unauthenticated, extension_members

if TYPE_CHECKING:
    from identity_svc.tokens.client_auth import AuthenticatedClient

#: The ``sub`` of the tokens identity-svc mints for its own calls (the platform's contract).
SERVICE_SUBJECT = "identity-svc"
#: What its own token holds: the exchange's registry checks (real name, face, enterprises).
SERVICE_SCOPES = ("exchange:calls", "exchange:matches")
#: The clients that may hold tokens of their own (client credentials): their ``typ`` is the
#: token's.
CLIENT_TOKEN_TYPES = frozenset({"department_system", "service"})


class OAuthError(DomainError, abstract=True):
    """A token-endpoint refusal; ``error`` carries the RFC 6749 code OAuth clients read."""

    oauth_error: ClassVar[str | None] = None
    members = extension_members(
        error={
            "type": "string",
            "description": "The OAuth 2.0 error code (RFC 6749 §5.2) OAuth clients read",
            "examples": ["invalid_request"],
        }
    )

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, error=self.oauth_error or self.code, **extensions)


class InvalidRequest(OAuthError):
    code = "invalid_request"
    title = "The token request is missing a parameter or malformed"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    title = "This grant type is not supported"


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    title = "The credentials or the refresh token are not valid"


class InvalidClient(OAuthError):
    status = 401
    code = "invalid_client"
    title = "Client authentication failed"


class InvalidScope(OAuthError):
    code = "invalid_scope"
    title = "The requested scope is not granted to this client"
    members = extension_members(
        **OAuthError.members,
        refused_scopes={
            "type": "array",
            "items": {"type": "string"},
            "description": "The scopes the client may not have",
            "examples": [["exchange:population"]],
        },
    )


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"
    title = "This client may not use this grant"


class AccountDisabled(OAuthError):
    code = "account_disabled"
    title = "The account is disabled: it signs in no more"
    oauth_error = "invalid_grant"


class LoginThrottled(OAuthError):
    status = 429
    code = "login_throttled"
    title = "Too many failed sign-ins: wait before trying again"
    members = extension_members(
        error={**OAuthError.members["error"], "examples": ["invalid_grant"]},
        throttled_by={
            "type": "string",
            "description": (
                "What the failures were counted against: this phone number from this address, "
                "this phone number from anywhere, or this address"
            ),
            "enum": ["login_and_address", "login", "client_address"],
            "examples": ["login_and_address"],
        },
        retry_after={
            "type": "integer",
            "description": "Seconds to wait before the next attempt (as Retry-After)",
            "examples": [8],
        },
        retry_at={
            "type": "string",
            "format": "date-time",
            "description": "When the next attempt may be made",
            "examples": ["2026-11-26T02:45:08+00:00"],
        },
    )
    oauth_error = "invalid_grant"


@dataclass(frozen=True)
class SessionTokens:
    """What a citizen's session receives: an access token and the next refresh token."""

    access_token: str
    expires_in: int
    refresh_token: str
    #: The OAuth client the session belongs to (the authorization code flow), and the scopes
    #: it was granted.
    client_id: str | None = None
    scope: str | None = None
    #: The session (refresh token family) they belong to.
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ClientToken:
    """What a client-credentials grant receives: an access token alone."""

    access_token: str
    expires_in: int
    scope: str


def token_hash(token: str) -> str:
    """What is kept of a random token handed out (a refresh token, an authorization code, a
    browser's cookie): its SHA-256, to find it by."""
    return hashlib.sha256(token.encode()).hexdigest()


def base_claims(
    runtime: Runtime, *, sub: str, typ: str, loa: int, iat: int, exp: int
) -> dict[str, Any]:
    settings = runtime.settings
    return {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": sub,
        "typ": typ,
        "loa": loa,
        "roles": [],
        "iat": iat,
        "exp": exp,
        "jti": str(new_id()),
    }


async def access_token_for(
    runtime: Runtime,
    account: Account,
    *,
    now: dt.datetime,
    session_id: uuid.UUID | None = None,
    client: SessionClient | None = None,
) -> tuple[str, int]:
    """A signed access token for the account as it stands now, and its lifetime in seconds.
    At level 3 the token expires no later than the face window does. ``sid`` names the session
    the token was issued in, so that the list of sessions can tell the caller's own. A token
    issued to a client names it (``client_id``, RFC 9068) and carries the scopes she allowed
    it, which limit what it may call."""
    loa = effective_loa(account, now=now)
    iat = int(now.timestamp())
    exp = iat + runtime.settings.access_token_ttl_seconds
    if loa == 3 and account.face_verified_until is not None:
        exp = min(exp, int(account.face_verified_until.timestamp()))
    claims = base_claims(runtime, sub=str(account.id), typ=account.typ, loa=loa, iat=iat, exp=exp)
    if account.region_code:
        claims["region"] = account.region_code
    if account.typ == "staff":
        claims["roles"] = list(account.roles or [])
        if account.dept:
            claims["dept"] = account.dept
        if account.staff_no:
            claims["staff_no"] = account.staff_no
    if session_id is not None:
        claims["sid"] = str(session_id)
    if client is not None:
        claims["client_id"] = client.client_id
        if client.scope is not None:
            claims["scope"] = client.scope
    return await runtime.keys.sign(claims, now=now), exp - iat


async def service_token(runtime: Runtime, *, now: dt.datetime) -> str:
    """identity-svc's own token for calls to other services (typ ``service``, level 0)."""
    iat = int(now.timestamp())
    claims = base_claims(
        runtime,
        sub=SERVICE_SUBJECT,
        typ="service",
        loa=0,
        iat=iat,
        exp=iat + runtime.settings.service_token_ttl_seconds,
    )
    # A service token is limited by scope like any client's (servicekit.auth.check_scopes).
    claims["scope"] = " ".join(SERVICE_SCOPES)
    return await runtime.keys.sign(claims, now=now)


async def issue_session_tokens(
    *,
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    device: Device,
    now: dt.datetime,
    family_id: uuid.UUID | None = None,
    client: SessionClient | None = None,
) -> SessionTokens:
    """An access token and the next refresh token of a session (a new one unless given, issued
    to ``client`` when one is given; an existing one keeps its client). A disabled account gets
    neither, however it signed in."""
    if account.disabled_at is not None:
        raise AccountDisabled()
    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    refresh = secrets.token_urlsafe(32)
    expires_at = now + runtime.settings.refresh_token_ttl_for(account.typ)
    if family_id is None:
        family_id = new_id()
        await repository.add_login_session(
            session,
            LoginSession(
                id=family_id,
                account_id=account.id,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at,
                user_agent=device.user_agent,
                client_address=device.client_address,
                client_id=client.client_id if client is not None else None,
                scope=client.scope if client is not None else None,
            ),
        )
    else:
        client = await repository.touch_login_session(
            session,
            family_id,
            now=now,
            expires_at=expires_at,
            user_agent=device.user_agent,
            client_address=device.client_address,
        )
    await repository.add_refresh_token(
        session,
        family_id=family_id,
        account_id=account.id,
        token_hash=token_hash(refresh),
        issued_at=now,
        expires_at=expires_at,
    )
    access, expires_in = await access_token_for(
        runtime, account, now=now, session_id=family_id, client=client
    )
    return SessionTokens(
        access_token=access,
        expires_in=expires_in,
        refresh_token=refresh,
        client_id=client.client_id if client is not None else None,
        scope=client.scope if client is not None else None,
        session_id=family_id,
    )


def session_id_of(principal: Principal) -> uuid.UUID | None:
    """The session the caller's token was issued in (its ``sid`` claim), if it names one."""
    try:
        return uuid.UUID(principal.sid) if principal.sid is not None else None
    except ValueError:
        return None


async def step_up_tokens(
    *,
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    principal: Principal,
    device: Device,
    now: dt.datetime,
) -> SessionTokens:
    """Tokens at the level just reached, in the caller's own session when it is still live, so
    that one sign-in stays one session in the list. The session's earlier refresh token keeps
    working too (each is still single-use); a token of no live session starts a new one."""
    family_id = session_id_of(principal)
    if family_id is not None:
        login_session = await repository.login_session(session, family_id)
        if (
            login_session is None
            or login_session.account_id != account.id
            or login_session.revoked_at is not None
            or login_session.expires_at <= now
        ):
            family_id = None
    return await issue_session_tokens(
        session=session,
        runtime=runtime,
        account=account,
        device=device,
        now=now,
        family_id=family_id,
    )


@dataclass(frozen=True)
class LoginThrottle:
    """What one sign-in attempt is counted against, as keyed hashes: the login name (a phone
    number, registered or not), and when the client's address is known, the address and the
    two together."""

    login_hash: str
    address_hash: str | None = None
    login_address_hash: str | None = None

    @classmethod
    def of(cls, runtime: Runtime, login_hash: str, client_address: str | None) -> "LoginThrottle":
        if not client_address:
            return cls(login_hash=login_hash)
        personal_data = runtime.personal_data
        return cls(
            login_hash=login_hash,
            address_hash=personal_data.lookup_hash("client_address", client_address),
            login_address_hash=personal_data.lookup_hash(
                "login_address", f"{login_hash}:{client_address}"
            ),
        )

    def counted(self) -> list[tuple[ThrottledBy, str]]:
        """(rule, hash) for each count the attempt is in."""
        counted: list[tuple[ThrottledBy, str]] = [("login", self.login_hash)]
        if self.login_address_hash is not None:
            counted.insert(0, ("login_and_address", self.login_address_hash))
        if self.address_hash is not None:
            counted.append(("client_address", self.address_hash))
        return counted


async def _wait(
    session: AsyncSession, runtime: Runtime, throttle: LoginThrottle, *, now: dt.datetime
) -> LoginThrottled | None:
    """The wait in force, the longest of the rules', derived from the failures themselves (no
    lock row to race on); none for the account's own known address but its own failures."""
    settings = runtime.settings
    known = throttle.login_address_hash is not None and await repository.is_known_login_address(
        session,
        throttle.login_address_hash,
        since=now - dt.timedelta(days=settings.login_known_address_days),
    )
    waits: list[tuple[dt.datetime, ThrottledBy]] = []
    for by, counted_hash in throttle.counted():
        if known and by != "login_and_address":
            continue
        rule = settings.login_throttling[by]
        failures = await repository.recent_login_failures(
            session, counted_hash, limit=rule.failures_that_matter
        )
        until = rule.next_attempt_at(failures, now=now)
        if until is not None and until > now:
            waits.append((until, by))
    if not waits:
        return None
    until, by = max(waits)
    return _throttled(until, by, now=now)


async def check_login_throttle(
    session: AsyncSession, runtime: Runtime, throttle: LoginThrottle, *, now: dt.datetime
) -> None:
    """Refuse an attempt made before its wait is over (password and SMS-code sign-ins, password
    changes alike), before anything about the account is looked at."""
    if (throttled := await _wait(session, runtime, throttle, now=now)) is not None:
        raise throttled


async def record_login_failure(
    runtime: Runtime,
    throttle: LoginThrottle,
    *,
    now: dt.datetime,
    refusal: DomainError | None = None,
) -> DomainError:
    """Count a failed sign-in, committed on its own; returns the refusal to raise: the wait
    before the next attempt when there is one, else ``refusal`` (by default a wrong password)."""
    rules = runtime.settings.login_throttling
    async with runtime.outcomes.begin() as outcomes:
        for by, counted_hash in throttle.counted():
            horizon = now - dt.timedelta(seconds=rules[by].window_seconds)
            await repository.forget_login_failures(outcomes, counted_hash, before=horizon)
            await repository.add_login_failure(
                outcomes, LoginFailure(login_hash=counted_hash, occurred_at=now)
            )
        throttled = await _wait(outcomes, runtime, throttle, now=now)
    return throttled or refusal or InvalidGrant("the phone number or the password is wrong")


async def record_sign_in(
    session: AsyncSession, runtime: Runtime, throttle: LoginThrottle, *, now: dt.datetime
) -> None:
    """A sign-in: its address becomes the account's known one, and its own failures there are
    forgotten. The login name's and the address's counts are kept: a sign-in of one's own must
    not wipe the count of guesses made at the account from elsewhere, or at other accounts."""
    if throttle.login_address_hash is None:
        return
    await repository.forget_login_failures(session, throttle.login_address_hash)
    await repository.remember_login_address(session, throttle.login_address_hash, now=now)
    known_for = dt.timedelta(days=runtime.settings.login_known_address_days)
    await repository.forget_login_addresses(session, before=now - known_for)


_THROTTLED_DETAIL: dict[ThrottledBy, str] = {
    "login_and_address": "too many failed sign-ins with this phone number from this address",
    "login": "too many failed sign-ins with this phone number",
    "client_address": "too many failed sign-ins from this address",
}


def _throttled(retry_at: dt.datetime, by: ThrottledBy, *, now: dt.datetime) -> LoginThrottled:
    retry_after = max(1, math.ceil((retry_at - now).total_seconds()))
    return LoginThrottled(
        f"{_THROTTLED_DETAIL[by]}; try again in {retry_after} s",
        throttled_by=by,
        retry_after=retry_after,
        retry_at=retry_at.isoformat(),
        headers={"Retry-After": str(retry_after)},
    )


async def password_grant(
    *,
    session: AsyncSession,
    runtime: Runtime,
    username: str,
    password: str,
    device: Device,
    now: dt.datetime,
) -> SessionTokens:
    account = await sign_in_by_password(
        session=session,
        runtime=runtime,
        username=username,
        password=password,
        device=device,
        now=now,
    )
    return await issue_session_tokens(
        session=session, runtime=runtime, account=account, device=device, now=now
    )


async def sign_in_by_password(
    *,
    session: AsyncSession,
    runtime: Runtime,
    username: str,
    password: str,
    device: Device,
    now: dt.datetime,
) -> Account:
    """The account whose phone number and password these are, under login throttling (the
    password grant's, and the sign-in page's); ``InvalidGrant`` or ``LoginThrottled`` else."""
    login_hash = runtime.personal_data.lookup_hash("phone", username.strip())
    throttle = LoginThrottle.of(runtime, login_hash, device.client_address)
    async with runtime.sign_in_attempt(login_hash):
        await check_login_throttle(session, runtime, throttle, now=now)
        account = await accounts.by_phone_hash(session, login_hash)
        if account is None or not has_password(account):
            await runtime.passwords.verify_nobody(password)
            raise await record_login_failure(runtime, throttle, now=now)
        if not await runtime.passwords.verify(account.password_hash, password):
            raise await record_login_failure(runtime, throttle, now=now)
    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    await record_sign_in(session, runtime, throttle, now=now)
    if runtime.passwords.needs_rehash(account.password_hash):
        account.password_hash = await runtime.passwords.hash(password)
    if account.disabled_at is not None:
        raise AccountDisabled()
    return account


async def refresh_token_grant(
    *,
    session: AsyncSession,
    runtime: Runtime,
    refresh_token: str,
    client_id: str | None,
    device: Device,
    now: dt.datetime,
) -> SessionTokens:
    """The next tokens of the refresh token's session. A session issued to a client is that
    client's: its refresh tokens are refused to anyone else, authenticated (``client_id``, by
    its registered method) or not (RFC 6749 §6); one of the platform's own sign-in grants is
    refused to every client."""
    await runtime.keys.load(now=now)
    presented_hash = token_hash(refresh_token)
    spent = await repository.spend_refresh_token(session, presented_hash, now=now)
    if spent is None:
        raise await _unspendable(runtime, session, presented_hash, now=now)
    family_id, account_id = spent
    account = await accounts.get(session, account_id)
    if account is None:
        raise InvalidGrant("the refresh token's account no longer exists")
    tokens = await issue_session_tokens(
        session=session,
        runtime=runtime,
        account=account,
        device=device,
        now=now,
        family_id=family_id,
    )
    if tokens.client_id != client_id:
        # The request's transaction rolls back: the token stays its client's, unspent.
        raise InvalidGrant("the refresh token was not issued to this client")
    return tokens


async def _unspendable(
    runtime: Runtime, session: AsyncSession, presented_hash: str, *, now: dt.datetime
) -> InvalidGrant:
    """Why a refresh token could not be spent. A spent one presented again means someone holds
    a copy: the whole session ends for everyone holding it, in a transaction of its own so that
    the refusal does not undo it. Two refreshes racing with one token count as such a reuse:
    the loser finds it spent by the winner, as it would a moment later."""
    # The failed UPDATE wrote nothing, but on SQLite it holds the write lock the separate
    # transaction below needs: end the request's transaction first (the refusal ends it anyway).
    await session.rollback()
    presented = await repository.refresh_token_by_hash(session, presented_hash)
    if presented is None:
        return InvalidGrant("the refresh token is not known")
    if presented.revoked_at is not None:
        return InvalidGrant("the refresh token was revoked")
    if presented.used_at is not None:
        async with runtime.outcomes.begin() as outcomes:
            ended = await repository.revoke_family(outcomes, presented.family_id, now=now)
            await revocations.end_session_tokens(outcomes, runtime, ended, now=now)
        return InvalidGrant("the refresh token was already used; the session is revoked")
    if presented.expires_at <= now:
        return InvalidGrant("the refresh token has expired")
    # Live and unspent, yet not spendable a moment ago: a concurrent refresh held it and then
    # rolled back. Nothing was spent; the client may try again.
    return InvalidGrant("the refresh token is being used by another request")


async def revoke(
    *,
    session: AsyncSession,
    runtime: Runtime,
    verifier: TokenVerifier,
    token: str,
    token_type_hint: str | None,
    now: dt.datetime,
) -> None:
    """End the session a token belongs to (RFC 7009): a refresh token of it, spent or not, or
    an access token issued in it (its ``sid``). Whoever holds any token of a session may end
    it; its access tokens go on the revocation list. A delegated token names the delegate's
    session it was exchanged in, and ends that. A token that names no session ends nothing and
    is not an error (§2.2): client tokens end with their client."""
    # The hint only orders the look-ups (§2.1): a refresh token is never a JWT, an access
    # token always one.
    looks_like_access_token = token.count(".") == 2
    if token_type_hint == "access_token" or looks_like_access_token:
        family_id = await _session_of_access_token(verifier, token)
    else:
        family_id = None
    if family_id is None and not looks_like_access_token:
        presented = await repository.refresh_token_by_hash(session, token_hash(token))
        family_id = presented.family_id if presented is not None else None
    if family_id is not None:
        ended = await repository.revoke_family(session, family_id, now=now)
        await revocations.end_session_tokens(session, runtime, ended, now=now)


async def _session_of_access_token(verifier: TokenVerifier, token: str) -> uuid.UUID | None:
    try:
        principal = await verifier.verify(token)
    except Unauthenticated:
        return None  # invalid, expired or already revoked: nothing left to end
    return session_id_of(principal)


async def client_credentials_grant(
    *, runtime: Runtime, client: "AuthenticatedClient", scope: str | None, now: dt.datetime
) -> ClientToken:
    """A token for the client itself: a department system or a service, never a client that
    signs citizens in without authenticating (a public one)."""
    oauth_client = client.client
    if client.method == "none" or oauth_client.typ not in CLIENT_TOKEN_TYPES:
        raise UnauthorizedClient("this client may not use the client_credentials grant")
    allowed = oauth_client.scopes.split()
    requested = scope.split() if scope else allowed
    refused = sorted(set(requested) - set(allowed))
    if refused:
        raise InvalidScope(refused_scopes=refused)
    granted = " ".join(requested)
    iat = int(now.timestamp())
    exp = iat + runtime.settings.access_token_ttl_seconds
    claims = base_claims(
        runtime, sub=oauth_client.client_id, typ=oauth_client.typ, loa=0, iat=iat, exp=exp
    )
    claims["scope"] = granted
    if client.secret_generation is not None:
        claims["sgen"] = client.secret_generation
    if oauth_client.dept:
        claims["dept"] = oauth_client.dept
    # No refresh token for this grant (RFC 6749 §4.4.3): the client simply asks again.
    return ClientToken(
        access_token=await runtime.keys.sign(claims, now=now), expires_in=exp - iat, scope=granted
    )


async def register_client(
    *,
    session: AsyncSession,
    passwords: Passwords,
    client_id: str,
    client_secret: str | None,
    name: str,
    typ: str,
    dept: str | None,
    scopes: str,
    now: dt.datetime,
    auth_method: str = "client_secret_basic",
    jwks: dict[str, Any] | None = None,
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    first_party: bool = False,
) -> OAuthClient:
    """Store a client as given (the caller checked it: ``oauth_clients.metadata``); a secret
    is hashed, and only a ``client_secret_basic`` client has one."""
    if (client_secret is not None) != (auth_method == "client_secret_basic"):
        raise ValueError("a client has a secret if and only if it authenticates with it")
    oauth_client = OAuthClient(
        client_id=client_id,
        name=name,
        typ=typ,
        dept=dept,
        scopes=" ".join(scopes.split()),
        secret_hash=await passwords.hash(client_secret) if client_secret is not None else None,
        auth_method=auth_method,
        jwks=jwks,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        first_party=first_party,
        created_at=now,
    )
    await repository.add_client(session, oauth_client)
    return oauth_client
