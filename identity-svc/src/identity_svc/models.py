"""The tables of identity-svc: accounts, their sessions (refresh-token families), login
failures, OAuth clients, signing keys, and the records of real-name and face verification.

Personal identifiers never sit in clear: ``*_sealed`` columns hold AES-GCM ciphertext bound to
the account and the field, ``*_hash`` columns a keyed hash (HMAC-SHA256) to find an account by
phone or ID number without decrypting anything.
"""

import datetime as dt
import uuid

from sqlalchemy import Boolean, Date, Float, ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.ids import new_id


class Base(DeclarativeBase):
    metadata = new_metadata()


class Account(Base):
    __tablename__ = "account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    typ: Mapped[str] = mapped_column(String(24), default="citizen")
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: The level the account has proven for good: 1 (password), 2 (real name verified).
    #: Level 3 is never stored here: it holds only while ``face_verified_until`` is ahead.
    loa: Mapped[int] = mapped_column(SmallInteger, default=1)

    real_name_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: One ID number, one account: the unique constraint refuses a second binding under a race.
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    #: The registered residence from the population registry (an official region code).
    region_code: Mapped[str | None] = mapped_column(String(12))

    face_verified_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Face mismatches since the last match or lockout.
    face_failures: Mapped[int] = mapped_column(SmallInteger, default=0)
    face_locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RefreshToken(Base):
    """One refresh token of a session; a session (family) is the chain its rotations form."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    #: SHA-256 of the opaque token: 256 random bits need no slow hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the token was exchanged for the next one: presenting it again is reuse.
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed password login, by the keyed hash of the login name (known account or not, so
    that throttling does not reveal which phone numbers are registered)."""

    __tablename__ = "login_failure"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    login_hash: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OAuthClient(Base):
    """A department system or internal service using the client-credentials grant."""

    __tablename__ = "oauth_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    typ: Mapped[str] = mapped_column(String(24))
    dept: Mapped[str | None] = mapped_column(String(64))
    #: Space-separated scopes the client may be granted.
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SigningKey(Base):
    """An Ed25519 token-signing key; the private half sealed with the key-encryption key."""

    __tablename__ = "signing_key"

    #: RFC 7638 JWK thumbprint of the public key.
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="EdDSA")
    #: The public key, base64url (the JWK ``x`` member).
    public_x: Mapped[str] = mapped_column(String(64))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A retired key signs nothing and leaves the JWKS.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RealNameAttempt(Base):
    """One question put to the population registry, and its outcome (never the answer data)."""

    __tablename__ = "real_name_attempt"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: matched | mismatch | already_bound
    outcome: Mapped[str] = mapped_column(String(24))
    #: The data-exchange ledger entry of the question, to follow the trail across services.
    exchange_call_id: Mapped[str | None] = mapped_column(String(64))


class FaceChallenge(Base):
    __tablename__ = "face_challenge"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FaceAttempt(Base):
    """The score and decision of one comparison. The submitted template is never stored."""

    __tablename__ = "face_attempt"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    #: Unique: a challenge is spent by exactly one comparison.
    challenge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("face_challenge.id"), unique=True)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    matched: Mapped[bool] = mapped_column(Boolean)
    exchange_call_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
