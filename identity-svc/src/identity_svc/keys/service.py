"""The key store: the active signing key, made on first use and kept sealed in the database,
and the public keys every service verifies tokens with.

Keys are ES256 (ECDSA on P-256): its verification, which every service does for every new
token, takes 64 us here against 103 us for Ed25519 (``python -m bench.identity_tokens --only
verify``). Ed25519 (EdDSA) keys made before still sign until the next rotation and verify while
they are published.

A key is generated and committed in a transaction of its own before it signs anything, so no
token ever names a ``kid`` the JWKS cannot serve. Several instances starting at once may each
make a key; all are published, and each instance signs with the newest it knows.

Rotation (``rotate_signing_key``, ``python -m identity_svc.keys rotate``, or automatically at
``signing_key_max_age_days``): a new key takes over signing and the previous one is marked
superseded. A superseded key stays in the JWKS for the grace period
(``IdentitySettings.signing_key_grace_seconds``: the longest token lifetime, plus the interval at
which every instance looks for a newer key, plus the verifiers' leeway), so every token it
signed verifies until it expires; then it leaves the JWKS, and a later rotation marks it retired.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity_svc.keys import repository
from identity_svc.keys.schemas import EcJwk, Jwk, Jwks, OkpJwk
from identity_svc.models import SigningKey
from identity_svc.sealing import seal, unseal

log = structlog.get_logger("identity_svc.keys")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk_thumbprint(public: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 of the key type's required members, sorted, no spaces."""
    required = ("crv", "kty", "x", "y") if public["kty"] == "EC" else ("crv", "kty", "x")
    canonical = json.dumps({name: public[name] for name in required}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


PrivateKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey


def _aad(kid: str) -> bytes:
    return f"signing_key:{kid}".encode()


def new_signing_key(key_encryption_key: bytes, *, now: dt.datetime) -> SigningKey:
    """A new ES256 key: the private scalar sealed, the public point as the JWK's x and y."""
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_numbers()
    x, y = b64url(point.x.to_bytes(32, "big")), b64url(point.y.to_bytes(32, "big"))
    kid = jwk_thumbprint({"crv": "P-256", "kty": "EC", "x": x, "y": y})
    raw = private.private_numbers().private_value.to_bytes(32, "big")
    return SigningKey(
        kid=kid,
        algorithm="ES256",
        public_x=x,
        public_y=y,
        private_key_sealed=seal(key_encryption_key, raw, associated_data=_aad(kid)),
        created_at=now,
    )


def _private_key(algorithm: str, raw: bytes) -> PrivateKey:
    if algorithm == "ES256":
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    return Ed25519PrivateKey.from_private_bytes(raw)


async def ensure_signing_key(
    session: AsyncSession, key_encryption_key: bytes, *, now: dt.datetime
) -> SigningKey:
    """The key that signs, or a new one when there is none."""
    key = await repository.signing(session)
    if key is not None:
        return key
    key = new_signing_key(key_encryption_key, now=now)
    await repository.add(session, key)
    return key


async def rotate_signing_key(
    session: AsyncSession, key_encryption_key: bytes, *, now: dt.datetime, grace: dt.timedelta
) -> SigningKey:
    """Make a new key the signer. The keys it supersedes stay published for ``grace``; keys
    superseded longer ago than that are marked retired."""
    await repository.retire_superseded(session, before=now - grace, now=now)
    await repository.supersede_all(session, now=now)
    key = new_signing_key(key_encryption_key, now=now)
    await repository.add(session, key)
    return key


def jwk_of(key: SigningKey) -> Jwk:
    if key.algorithm == "EdDSA":
        return OkpJwk(x=key.public_x, kid=key.kid)
    if key.public_y is None:
        raise ValueError(f"the ES256 key {key.kid} has no y coordinate")
    return EcJwk(x=key.public_x, y=key.public_y, kid=key.kid)


def jwks_of(keys: list[SigningKey]) -> Jwks:
    return Jwks(keys=[jwk_of(key) for key in keys])


@dataclass(frozen=True)
class _Signer:
    kid: str
    algorithm: str
    private_key: PrivateKey


class KeyStore:
    def __init__(
        self,
        key_encryption_key: bytes,
        *,
        clock: Callable[[], dt.datetime],
        grace: dt.timedelta,
        reload_every: dt.timedelta,
        max_age: dt.timedelta | None = None,
    ) -> None:
        self._kek = key_encryption_key
        self._clock = clock
        self.grace = grace
        self.reload_every = reload_every
        self._max_age = max_age
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._signer: _Signer | None = None

    def attach(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Bind to the database once the lifespan has opened it."""
        self._sessions = sessions
        self._signer = None

    def _sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError("the key store is used before the application started")
        return self._sessions

    def _use(self, key: SigningKey) -> None:
        if self._signer is None or self._signer.kid != key.kid:
            raw = unseal(self._kek, key.private_key_sealed, associated_data=_aad(key.kid))
            self._signer = _Signer(key.kid, key.algorithm, _private_key(key.algorithm, raw))

    async def load(self, *, now: dt.datetime) -> str:
        """Load (or make) the signing key; call it before the request's own writes."""
        if self._signer is None:
            async with self._sessionmaker().begin() as session:
                key = await ensure_signing_key(session, self._kek, now=now)
            self._use(key)
        assert self._signer is not None
        return self._signer.kid

    async def refresh(self, *, now: dt.datetime) -> str:
        """Sign with the newest key from now on (a rotation made by another instance or by the
        command), rotating first when the key has reached the maximum age."""
        async with self._sessionmaker().begin() as session:
            key = await ensure_signing_key(session, self._kek, now=now)
            if self._max_age is not None and now - key.created_at >= self._max_age:
                key = await rotate_signing_key(session, self._kek, now=now, grace=self.grace)
                log.info("signing_key_rotated", kid=key.kid, reason="max_age")
        self._use(key)
        return key.kid

    async def rotate(self, *, now: dt.datetime) -> str:
        """Rotate now and sign with the new key at once."""
        async with self._sessionmaker().begin() as session:
            key = await rotate_signing_key(session, self._kek, now=now, grace=self.grace)
        self._use(key)
        log.info("signing_key_rotated", kid=key.kid, reason="requested")
        return key.kid

    async def maintain(self) -> None:
        """Run for the application's life: every ``reload_every``, pick up the newest key.
        Done in the background so no request ever waits on it or writes a key mid-transaction."""
        while True:
            await asyncio.sleep(self.reload_every.total_seconds())
            try:
                await self.refresh(now=self._clock())
            except SQLAlchemyError as exc:
                log.warning("signing_key_refresh_failed", error_type=type(exc).__name__)

    async def sign(self, claims: dict[str, Any], *, now: dt.datetime) -> str:
        await self.load(now=now)
        assert self._signer is not None
        signer = self._signer
        return jwt.encode(
            claims, signer.private_key, algorithm=signer.algorithm, headers={"kid": signer.kid}
        )

    async def jwks(self) -> Jwks:
        async with self._sessionmaker()() as session:
            keys = await repository.published(session, now=self._clock(), grace=self.grace)
        return jwks_of(list(keys))

    async def jwks_document(self) -> dict[str, Any]:
        """The JWKS for the kit's token verifier: identity-svc verifies with its own keys."""
        return (await self.jwks()).model_dump()
