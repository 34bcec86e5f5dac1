"""The key store: the active Ed25519 signing key, made on first use and kept sealed in the
database, and the public keys every service verifies tokens with.

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity_svc.keys import repository
from identity_svc.keys.schemas import Jwk, Jwks
from identity_svc.models import SigningKey
from identity_svc.sealing import seal, unseal

log = structlog.get_logger("identity_svc.keys")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk_thumbprint(*, crv: str, x: str) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 of the required members, sorted, no spaces."""
    canonical = json.dumps({"crv": crv, "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def _aad(kid: str) -> bytes:
    return f"signing_key:{kid}".encode()


def new_signing_key(key_encryption_key: bytes, *, now: dt.datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    x = b64url(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    kid = jwk_thumbprint(crv="Ed25519", x=x)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return SigningKey(
        kid=kid,
        algorithm="EdDSA",
        public_x=x,
        private_key_sealed=seal(key_encryption_key, raw, associated_data=_aad(kid)),
        created_at=now,
    )


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


def jwks_of(keys: list[SigningKey]) -> Jwks:
    return Jwks(keys=[Jwk(x=key.public_x, kid=key.kid) for key in keys])


@dataclass(frozen=True)
class _Signer:
    kid: str
    private_key: Ed25519PrivateKey


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
            self._signer = _Signer(key.kid, Ed25519PrivateKey.from_private_bytes(raw))

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
        return jwt.encode(
            claims, self._signer.private_key, algorithm="EdDSA", headers={"kid": self._signer.kid}
        )

    async def jwks(self) -> Jwks:
        async with self._sessionmaker()() as session:
            keys = await repository.published(session, now=self._clock(), grace=self.grace)
        return jwks_of(list(keys))

    async def jwks_document(self) -> dict[str, Any]:
        """The JWKS for the kit's token verifier: identity-svc verifies with its own keys."""
        return (await self.jwks()).model_dump()
