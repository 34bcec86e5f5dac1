"""Access tokens: verification against a JWKS, and the typed ``Principal`` it yields.

Every service verifies tokens itself (the gateway rejects early, but defence in depth). Keys come
from a ``JwksSource``: the identity service's JWKS over HTTP for everyone else, its own key store
for the identity service. Keys are cached for ``cache_seconds`` and fetched again at once when a
token names a ``kid`` the cache does not hold (key rotation), at most once per ``min_refetch``.

A signature check costs tens of microseconds and every request pays it, while one token is sent
with many requests: a verified token's principal is kept in a bounded LRU cache, keyed by the
token string, and served from it until the token's ``exp`` (never past it). A key that a JWKS
refresh no longer lists takes the tokens it signed out of the cache with it.

A token can end before its ``exp`` (a logout, a disabled account or client): a verifier given a
``RevocationList`` (``servicekit.revocations``) refuses the tokens it covers, cached or not,
with 401 ``token_revoked``.
"""

import asyncio
import binascii
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import httpx
import jwt
import orjson
import structlog
from fastapi import Depends, Request
from jwt.utils import base64url_decode
from pydantic import BaseModel, ConfigDict, Field

from servicekit.problems import (
    DomainError,
    Forbidden,
    Unauthenticated,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.revocations import RevocationList
from servicekit.state import ServiceState, state_of

PrincipalType = Literal["citizen", "enterprise", "staff", "department_system", "service"]
JwksSource = Callable[[], Awaitable[dict[str, Any]]]

ALGORITHMS = frozenset({"EdDSA", "ES256"})
REQUIRED_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "sub", "typ"})
#: Seconds of clock skew tolerated on ``exp``, ``iat`` and ``nbf``.
LEEWAY_SECONDS = 5

log = structlog.get_logger("servicekit.auth")


class Actor(BaseModel):
    """Who really acts, when a delegate acts for the subject (RFC 8693 ``act``)."""

    model_config = ConfigDict(frozen=True)
    sub: str


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    sub: str
    typ: PrincipalType
    loa: int = Field(ge=0, le=3)
    region: str | None = None
    roles: tuple[str, ...] = ()
    dept: str | None = None
    #: Staff: their staff number (工号), what an applicant is shown of who acted on her case.
    staff_no: str | None = None
    scope: tuple[str, ...] = ()
    #: A citizen's token issued to an OAuth client by the authorization code flow: that client
    #: (RFC 9068 ``client_id``). Its ``scope`` is what she allowed the client, empty for the
    #: platform's own app.
    client_id: str | None = None
    act: Actor | None = None
    #: The sign-in session the token was issued in (citizens and staff), so that a service can
    #: tell the caller's own session among theirs.
    sid: str | None = None
    #: When the token was issued (``iat``): a revocation covers the tokens issued up to a time.
    iat: int = 0
    #: Client tokens: the generation of the client's secret the token was granted with.
    sgen: int | None = None
    #: The raw token, for forwarding the caller's own authority to another service.
    token: str = Field(repr=False, exclude=True)


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "The access token is not valid"


class TokenExpired(Unauthenticated):
    code = "token_expired"
    title = "The access token has expired"


class TokenRevoked(Unauthenticated):
    code = "token_revoked"
    title = "The access token was revoked: its session or client has ended"


class InsufficientAssurance(DomainError):
    """The app reads ``required_loa`` and ``step`` to step the user up, then retries."""

    status = 403
    code = "insufficient_assurance"
    title = "A higher level of assurance is required"
    members = extension_members(
        required_loa={
            "type": "integer",
            "description": "The level of assurance required",
            "minimum": 1,
            "maximum": 3,
            "examples": [3],
        },
        current_loa={
            "type": "integer",
            "description": "The token's",
            "minimum": 0,
            "maximum": 3,
            "examples": [2],
        },
        step={
            "type": "string",
            "description": (
                "The step that reaches it: real_name begins a binding (the real-name check,"
                " then the face match that binds it), face is a face match"
            ),
            "enum": ["password", "real_name", "face"],
            "examples": ["face"],
        },
    )


class WrongPrincipalType(Forbidden):
    code = "wrong_principal_type"
    title = "This kind of account cannot do this"


def http_jwks_source(client: httpx.AsyncClient, url: str) -> JwksSource:
    async def fetch() -> dict[str, Any]:
        try:
            response = await client.get(url)
            response.raise_for_status()
            keys = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamUnavailable("the signing keys could not be fetched") from exc
        if not isinstance(keys, dict):
            raise UpstreamUnavailable("the signing keys came in an unexpected shape")
        return keys

    return fetch


class TokenVerifier:
    def __init__(
        self,
        source: JwksSource,
        *,
        issuer: str,
        audience: str,
        cache_seconds: float = 300.0,
        min_refetch_seconds: float = 5.0,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
        revocations: RevocationList | None = None,
    ) -> None:
        """``cache_size`` verified tokens are kept (0: none); ``clock`` is the wall clock that
        ``exp`` is compared with; ``revocations``, when given, the tokens ended early."""
        self._source = source
        self._issuer = issuer
        self._audience = audience
        self._cache_seconds = cache_seconds
        self._min_refetch = min_refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self._cache_size = cache_size
        self._clock = clock
        #: token → (principal, exp, kid); least recently used first.
        self._verified: OrderedDict[str, tuple[Principal, float, str]] = OrderedDict()
        self.revocations = revocations

    @property
    def cached_tokens(self) -> int:
        return len(self._verified)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < self._min_refetch or (not force and age < self._cache_seconds):
                return
            try:
                document = await self._source()
            except UpstreamUnavailable:
                if not self._keys:
                    raise
                # Keep verifying with the keys we hold while the identity service is away;
                # only a token signed by a key we never saw is refused meanwhile.
                log.warning("jwks_refresh_failed_using_cached_keys")
                self._fetched_at = time.monotonic()
                return
            keys: dict[str, jwt.PyJWK] = {}
            for entry in document.get("keys", []):
                try:
                    key = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue  # a key of a kind this service does not use
                if key.key_id and key.algorithm_name in ALGORITHMS:
                    keys[key.key_id] = key
            if self._keys.keys() - keys.keys():
                self._verified = OrderedDict(
                    (token, entry) for token, entry in self._verified.items() if entry[2] in keys
                )
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        return key

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            if time.monotonic() - self._fetched_at >= self._cache_seconds:
                # Time to look at the keys again: one removed since takes its tokens along.
                await self._refresh(force=False)
                cached = self._verified.get(token)
            if cached is not None:
                principal, expires_at, _kid = cached
                if self._clock() < expires_at:
                    self._verified.move_to_end(token)
                    # Checked on every use, not once when cached: an entry comes after its
                    # tokens. Inline: the gateway's every request passes here.
                    revocations = self.revocations
                    if revocations is not None and revocations.refuses(principal):
                        raise TokenRevoked()
                    return principal
                del self._verified[token]
        principal, expires_at, kid = await self._verify_signed(token)
        if self._cache_size > 0 and self._clock() < expires_at:
            self._verified[token] = (principal, expires_at, kid)
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        if self.revocations is not None and self.revocations.refuses(principal):
            raise TokenRevoked()
        return principal

    async def _verify_signed(self, token: str) -> tuple[Principal, float, str]:
        """The principal, the token's ``exp`` and its key id, from a full verification.

        The compact form is split and each part decoded once; the signature is checked by
        PyJWT's algorithm for the key (``cryptography`` underneath). ``jwt.decode`` would do
        the same checks with more work around them, and the header would be read twice."""
        try:
            header_part, payload_part, signature_part = token.split(".")
            header = orjson.loads(base64url_decode(header_part))
            signature = base64url_decode(signature_part)
        except (ValueError, binascii.Error) as exc:
            raise InvalidToken("the token is malformed") from exc
        if not isinstance(header, dict):
            raise InvalidToken("the token is malformed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("the token names no key")
        if "crit" in header:
            # Critical extensions (RFC 7515 §4.1.11) this verifier does not implement.
            raise InvalidToken("the token's header has critical extensions")
        key = await self._key(kid)
        if header.get("alg") != key.algorithm_name:
            raise InvalidToken("the token's algorithm is not its key's")
        signing_input = f"{header_part}.{payload_part}".encode()
        if not key.Algorithm.verify(signing_input, key.key, signature):
            raise InvalidToken("the token failed verification")
        try:
            claims = orjson.loads(base64url_decode(payload_part))
        except (ValueError, binascii.Error) as exc:
            raise InvalidToken("the token is malformed") from exc
        if not isinstance(claims, dict):
            raise InvalidToken("the token's claims are not an object")
        missing = REQUIRED_CLAIMS - claims.keys()
        if missing:
            raise InvalidToken(f"the token has no {', '.join(sorted(missing))}")
        if claims.get("iss") != self._issuer:
            raise InvalidToken("the token is from another issuer")
        audience = claims.get("aud")
        if audience != self._audience and not (
            isinstance(audience, list) and self._audience in audience
        ):
            raise InvalidToken("the token is meant for another audience")
        times = {name: claims.get(name) for name in ("exp", "iat", "nbf")}
        if any(
            value is not None and (isinstance(value, bool) or not isinstance(value, int | float))
            for value in times.values()
        ):
            raise InvalidToken("the token's times are not times")
        now = self._clock()
        expires_at: float = claims["exp"]
        if now >= expires_at + LEEWAY_SECONDS:
            raise TokenExpired()
        for name in ("iat", "nbf"):
            not_before = times[name]
            if not_before is not None and now < not_before - LEEWAY_SECONDS:
                raise InvalidToken(f"the token is not valid yet ({name} is in the future)")
        scope = claims.get("scope", "")
        try:
            principal = Principal(
                sub=claims["sub"],
                typ=claims["typ"],
                loa=claims.get("loa", 0),
                region=claims.get("region"),
                roles=tuple(claims.get("roles", ())),
                dept=claims.get("dept"),
                staff_no=claims.get("staff_no"),
                scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
                client_id=claims.get("client_id"),
                act=claims.get("act"),
                sid=claims.get("sid"),
                iat=claims.get("iat", 0),
                sgen=claims.get("sgen"),
                token=token,
            )
        except (ValueError, TypeError) as exc:
            raise InvalidToken("the token's claims are not valid") from exc
        return principal, float(expires_at), kid


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "send an access token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def authenticate(verifier: TokenVerifier, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer`` header; usable outside FastAPI too."""
    try:
        return await verifier.verify(bearer_token(authorization))
    except Unauthenticated as exc:
        exc.headers.setdefault("WWW-Authenticate", f'Bearer error="{exc.code}"')
        raise


async def current_principal(request: Request) -> Principal:
    verifier = state_of(request, ServiceState).token_verifier
    return await authenticate(verifier, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(current_principal)]

_STEP_FOR_LEVEL = {1: "password", 2: "real_name", 3: "face"}


def require_assurance(principal: Principal, level: int) -> None:
    """Refuse with the level required and the step that reaches it, so the app can step up."""
    if principal.loa < level:
        raise InsufficientAssurance(
            f"this needs assurance level {level}; the token has {principal.loa}",
            required_loa=level,
            current_loa=principal.loa,
            step=_STEP_FOR_LEVEL.get(level, "face"),
        )


def require_type(principal: Principal, *allowed: PrincipalType) -> None:
    if principal.typ not in allowed:
        raise WrongPrincipalType(f"allowed: {', '.join(allowed)}")


def principal_of(*allowed: PrincipalType) -> Any:
    """A dependency: the caller, if of one of the ``allowed`` types. It runs before the body is
    read, so a caller who may not use the route learns 403 ``wrong_principal_type``, not the
    fields the body would need. Use as ``Annotated[Principal, principal_of("staff")]``."""

    async def of_allowed_type(principal: PrincipalDep) -> Principal:
        require_type(principal, *allowed)
        return principal

    return Depends(of_allowed_type)
