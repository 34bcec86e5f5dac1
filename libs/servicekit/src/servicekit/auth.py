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

Scopes (RFC 6750 §3.1, ``check_scopes``): what an operation requires of the clients it admits.

- A token is *limited by scope* when it is a client token (``typ`` department_system or
  service: a system acting for itself, holding what its client was granted), or a citizen's or
  enterprise's token issued to a third-party client (a ``client_id`` and a non-empty ``scope``:
  what she allowed a department's portal). Other tokens (the platform's own app and sign-in
  grants, which carry no scope; staff; a delegate's) are not limited.
- An operation may declare the scopes it requires, all of them (``requires_scopes``, in the
  route's ``dependencies=[...]``; the gateway's routing table declares the same). A limited
  token lacking one is refused: 403 ``insufficient_scope`` naming them (``required_scopes``,
  and ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``).
- A client token calling an operation that declares no scope: unchanged (token types, roles
  and grants decide, as before scopes meant anything).
- A third-party client's citizen token calling an operation that declares no scope: refused,
  403 ``insufficient_scope`` (deny by default: a portal got her identity, not her account).
  ``current_principal`` refuses it, so that every authenticated route of every service holds
  without remembering to.
"""

import asyncio
import binascii
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, Literal

import httpx
import jwt
import orjson
import structlog
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
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


class InsufficientScope(Forbidden):
    """RFC 6750 §3.1: the token was not granted what the operation requires. ``required_scopes``
    is empty when the operation is not open to the token's client at all (a third-party client's
    citizen token on an operation that declares no scope)."""

    code = "insufficient_scope"
    title = "The access token lacks a scope this operation requires"
    members = extension_members(
        required_scopes={
            "type": "array",
            "items": {"type": "string"},
            "description": (
                "The scopes the operation requires, all of them; empty: none would do, the"
                " operation is not open to tokens issued to another client for a person"
            ),
            "examples": [["cases:read"]],
        }
    )


#: Token types that act for themselves, with the scopes their client was granted.
CLIENT_TOKEN_TYPES: frozenset[str] = frozenset({"department_system", "service"})


def limited_by_scope(principal: Principal) -> bool:
    """Whether the token holds only what its scopes allow (see the module's docstring)."""
    return principal.typ in CLIENT_TOKEN_TYPES or (
        principal.client_id is not None and bool(principal.scope)
    )


def check_scopes(principal: Principal, required: Sequence[str]) -> None:
    """Refuse a token limited by scope that lacks one of ``required`` (the operation's declared
    scopes; empty: it declares none), or, on an operation that declares none, a third-party
    client's token for a person (deny by default). Raises ``InsufficientScope``."""
    typ = principal.typ
    if typ in CLIENT_TOKEN_TYPES:
        if not required:
            return
    elif principal.client_id is None or not principal.scope:
        return  # not limited
    elif not required:
        raise InsufficientScope(
            "this operation is not open to a token issued to another client",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            required_scopes=[],
        )
    granted = principal.scope
    for scope in required:
        if scope not in granted:
            wanted = " ".join(required)
            raise InsufficientScope(
                f"this operation requires the scopes: {wanted}",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'
                },
                required_scopes=list(required),
            )


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
    """The caller of an authenticated route. A third-party client's token for a person is
    refused here unless the route declares scopes (``requires_scopes``), which it must then
    hold (deny by default, see the module's docstring); other tokens' scopes are checked by
    the route's ``requires_scopes`` itself."""
    verifier = state_of(request, ServiceState).token_verifier
    principal = await authenticate(verifier, request.headers.get("authorization"))
    if (
        principal.client_id is not None
        and principal.scope
        and principal.typ not in CLIENT_TOKEN_TYPES
    ):
        route = request.scope.get("route")
        dependant = getattr(route, "dependant", None)
        check_scopes(principal, declared_scopes(dependant) if dependant is not None else ())
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class ScopeRequirement:
    """The dependency ``requires_scopes`` makes: the scopes an operation requires, checked."""

    def __init__(self, scopes: Iterable[str]) -> None:
        self.scopes = tuple(dict.fromkeys(scopes))
        if not self.scopes or any(not scope or " " in scope for scope in self.scopes):
            raise ValueError(f"name one or more scopes, each without spaces: {self.scopes!r}")

    async def __call__(self, principal: PrincipalDep) -> None:
        check_scopes(principal, self.scopes)

    def __repr__(self) -> str:
        return f"requires_scopes{self.scopes!r}"


def requires_scopes(*scopes: str) -> Any:
    """A dependency: the operation requires every one of ``scopes`` of a token limited by
    scope, and declares them (its OpenAPI security requirement and ``x-required-scopes``; 403
    ``insufficient_scope``). Put it in the route's own ``dependencies=[...]`` (not a router's:
    ``current_principal`` looks for it on the route, and a router's would leave third-party
    tokens refused)::

        @router.get("/cases/{case_no}", dependencies=[requires_scopes("cases:read")])
    """
    return Depends(ScopeRequirement(scopes))


def declared_scopes(dependant: Dependant) -> tuple[str, ...]:
    """The scopes a route's dependencies declare (``requires_scopes``), in their order."""
    found: dict[str, None] = {}
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop(0)
        if isinstance(dependency.call, ScopeRequirement):
            found.update(dict.fromkeys(dependency.call.scopes))
        pending.extend(dependency.dependencies)
    return tuple(found)


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
