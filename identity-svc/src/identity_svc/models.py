"""The tables of identity-svc: accounts (citizens and staff), their sessions and refresh
tokens, login failures, SMS codes, OAuth clients, signing keys, delegations, the
records of real-name and face verification and of which account each ID number is bound to,
the enterprises citizens act for, the revocation list of access tokens ended early, and the
audit trail of administrators' changes.

Personal identifiers never sit in clear: ``*_sealed`` columns hold values sealed with the
service's keyring bound to the account and the kind of value (``identity_svc.personal_data``),
``*_hash`` columns a keyed hash (HMAC-SHA256) to find an account by phone or ID number without
decrypting anything.
"""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, new_metadata, utcnow
from servicekit.events import InboxEventMixin
from servicekit.idempotency import IdempotencyRecordMixin
from servicekit.ids import new_id
from servicekit.sealing import SealedDate, SealedForRow, SealedText


class Base(DeclarativeBase):
    metadata = new_metadata()


class Account(Base):
    __tablename__ = "account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    typ: Mapped[str] = mapped_column(String(24), default="citizen")
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_sealed: Mapped[bytes] = mapped_column(SealedForRow("identity", "phone", bound_to=("id",)))
    #: argon2id; empty for an account without a password (one that signed up by an SMS code
    #: and signs in by codes: ``identity_svc.accounts.service.has_password``).
    password_hash: Mapped[str] = mapped_column(String(255))
    #: The level the account has proven for good: 1 (password), 2 (real name bound: the
    #: registry matched the name and ID number, then the face of that number's template).
    #: Level 3 is never stored here: it holds only while ``face_verified_until`` is ahead.
    loa: Mapped[int] = mapped_column(SmallInteger, default=1)

    #: A real-name claim waiting for its face match: a name and ID number the registry matched,
    #: sealed like the bound ones. It binds nothing and blocks nobody: anyone who knows a name
    #: and a number can make one, and the face match that binds the number on any account
    #: removes every other account's claim of it (found by the keyed hash, not unique).
    real_name_claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_name_sealed: Mapped[bytes | None] = mapped_column(
        SealedForRow("identity", "name", bound_to=("id",))
    )
    claimed_id_number_sealed: Mapped[bytes | None] = mapped_column(
        SealedForRow("identity", "id_number", bound_to=("id",))
    )
    claimed_id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    #: The bound real name: set by the face match that bound the claim, cleared when a later
    #: face match of the same person on another account takes the number over.
    real_name_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    name_sealed: Mapped[bytes | None] = mapped_column(
        SealedForRow("identity", "name", bound_to=("id",))
    )
    name_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_sealed: Mapped[bytes | None] = mapped_column(
        SealedForRow("identity", "id_number", bound_to=("id",))
    )
    #: One ID number, one account: a take-over clears the earlier account's before setting it.
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: From the bound identity number, sealed (``servicekit.sealing``) like the name.
    birth_date: Mapped[dt.date | None] = mapped_column(SealedDate("identity", "account.birth_date"))
    sex: Mapped[str | None] = mapped_column(SealedText("identity", "account.sex"))
    #: The registered residence from the population registry (an official region code), sealed.
    region_code: Mapped[str | None] = mapped_column(SealedText("identity", "account.region_code"))

    #: Staff only: the catalog department id (``<region code>-<department type>``) and roles.
    dept: Mapped[str | None] = mapped_column(String(64))
    #: Staff only: the staff number (工号), ``<region code>-<sequence>`` (``330302-0007``): how
    #: an applicant's view of her case names the staff member who acted, without their name.
    staff_no: Mapped[str | None] = mapped_column(String(24), unique=True, index=True)
    roles: Mapped[list[str] | None] = mapped_column(JSON)
    #: Staff only: the administrator who created the account.
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    #: Staff only: set when an administrator disabled the account; it signs in no more.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Staff only: bumped by every administrator's change, the ``ETag`` their updates match.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    face_verified_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Face mismatches since the last match or lockout.
    face_failures: Mapped[int] = mapped_column(SmallInteger, default=0)
    face_locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffNumberCounter(Base):
    """The last staff number given out per region (the department's region code; ``000000``
    for platform staff with no department); incremented by one upsert, so that two accounts
    created at once never share a number."""

    __tablename__ = "staff_number_counter"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class LoginSession(Base):
    """A session: what one sign-in (and the refresh tokens rotating from it) belongs to, as its
    holder sees it in the list of their sessions."""

    __tablename__ = "login_session"

    #: The ``family_id`` of its refresh tokens.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: When a refresh token of the session was last issued (sign-in or refresh).
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: When its latest refresh token expires.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The ``User-Agent`` of the latest sign-in or refresh, cut to its first 300 characters.
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: The client's address of the latest sign-in or refresh, sealed: where a person was.
    client_address: Mapped[str | None] = mapped_column(
        SealedText("identity", "login_session.client_address")
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The OAuth client the session's tokens were issued to by the authorization code flow
    #: (None: the platform's own sign-in grants); its refreshes are that client's alone.
    client_id: Mapped[str | None] = mapped_column(String(64))
    #: The scopes granted to that client (space-separated); its access tokens carry them.
    scope: Mapped[str | None] = mapped_column(String(1000))


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


class Delegation(Base):
    """A citizen (the principal) lets whoever holds a phone (the delegate) act for them, for
    every service or a listed set of items, until a date. It names the phone, not an account,
    so that giving one tells nothing about who has an account: the citizen account that holds
    the phone, now or once it is registered (which proves the phone by an SMS code), is the
    delegate. Either of them may revoke it."""

    __tablename__ = "delegation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    #: The keyed hash of the delegate's phone, as ``Account.phone_hash``.
    delegate_phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: The delegate's phone as the principal gave it, sealed for the principal's account (kind
    #: ``delegate_phone``): what both of them see of it, masked.
    delegate_phone_sealed: Mapped[bytes] = mapped_column(
        SealedForRow("identity", "delegate_phone", bound_to=("principal_id",))
    )
    #: Catalog item codes the delegate may act on; ``None`` for every service.
    item_codes: Mapped[list[str] | None] = mapped_column(JSON)
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Which of the two revoked it (an account id).
    revoked_by: Mapped[uuid.UUID | None] = mapped_column()


class LoginFailure(Base):
    """A failed login, counted three times: by the keyed hash of the login name (known account
    or not, so that throttling does not reveal which phone numbers are registered), of the
    client's address, and of the two together (``login_hash`` holds any of them; the HMAC's
    kind keeps them apart)."""

    __tablename__ = "login_failure"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    login_hash: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class KnownLoginAddress(Base):
    """An address an account signed in from, and when last: the keyed hash of the login name
    and the address together (neither is stored). Failures elsewhere do not slow sign-ins from
    it (``IdentitySettings.login_known_address_days``)."""

    __tablename__ = "known_login_address"

    login_address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class SmsCode(Base):
    """A one-time code sent by SMS to any phone asked for, registered or not, kept only as a
    keyed hash: it proves the phone, to register it or to sign in with it."""

    __tablename__ = "sms_code"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: HMAC-SHA256 (lookup key) over the code's id and the code: six digits hashed without a
    #: key could be found by trying all million of them.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OAuthClient(Base):
    """A department system or internal service using the client-credentials grant, a
    department's portal signing citizens in by the authorization code flow, or the platform's
    own app (a public client)."""

    __tablename__ = "oauth_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    typ: Mapped[str] = mapped_column(String(24))
    dept: Mapped[str | None] = mapped_column(String(64))
    #: Space-separated scopes the client may be granted.
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    #: None for a client that holds no secret: a public client, or one authenticating by
    #: ``private_key_jwt``.
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    #: How it authenticates at the token endpoint: ``client_secret_basic`` (its secret, by
    #: HTTP Basic or the form), ``private_key_jwt`` (RFC 7523, a JWT signed with a key of
    #: ``jwks``) or ``none`` (a public client: the app, RFC 8252).
    auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic", server_default="client_secret_basic"
    )
    #: The client's public keys (a JWK Set) for ``private_key_jwt``.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: Where the authorization code flow may send the browser back: matched exactly.
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    #: Where RP-initiated logout may send the browser back: matched exactly.
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    #: The platform's own app: no consent page, and its citizens' tokens are not limited to
    #: scopes (they are the citizen's own use of the platform).
    first_party: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: After a rotation the previous secret keeps working until ``previous_secret_expires_at``,
    #: so that the system's instances can move to the new one without downtime.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Counts the secrets: 1 for the first, one more per rotation. A client token carries the
    #: generation it was granted with (``sgen``), so the previous secret's tokens can be ended.
    secret_generation: Mapped[int] = mapped_column(default=1, server_default="1")
    #: The administrator who registered it (None: the seed).
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BrowserSession(Base):
    """A citizen's sign-in at identity-svc's own pages (single sign-on): the browser holds a
    random token in a cookie, this row its hash. Every client's authorization request made in
    that browser while it lasts signs her in without another password."""

    __tablename__ = "browser_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    #: When she last proved who she is in this browser (OIDC ``auth_time``).
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: How (OIDC ``amr``): ``pwd``, ``otp`` (an SMS code), ``face``.
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuthorizationRequest(Base):
    """A client's authorization request, held while the citizen signs in and consents in the
    browser that made it (the cookie whose hash is ``browser_hash``)."""

    __tablename__ = "authorization_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str | None] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    #: The level of assurance the sign-in must reach (from ``acr_values`` and the scopes).
    loa: Mapped[int] = mapped_column(SmallInteger)
    #: ``prompt=login``: sign in again even in a signed-in browser.
    force_login: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``prompt=consent``: ask her consent again even for what she allowed before.
    force_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``max_age``: a sign-in older than this many seconds is made again.
    max_age: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    #: Set once a code was issued for it: it is spent.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(Base):
    """A code issued to a client (its hash): single-use and short-lived. Presented again, the
    session its first exchange started ends (RFC 6749 §4.1.2)."""

    __tablename__ = "authorization_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    browser_session_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    #: Kept as long as the browser sign-in it was issued in may last: its logout ends the
    #: session the code's exchange started.
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The session its exchange started.
    login_session_id: Mapped[uuid.UUID | None] = mapped_column()


class Consent(Base):
    """The scopes a citizen allowed a client: asked once, remembered, revocable by her."""

    __tablename__ = "consent"

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Space-separated.
    scopes: Mapped[str] = mapped_column(String(1000))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ClientAssertion(Base):
    """A ``private_key_jwt`` assertion seen (its client and ``jti``), kept until it expires:
    the same assertion is refused a second time (RFC 7523 §3)."""

    __tablename__ = "client_assertion"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class SigningKey(Base):
    """A token-signing key, ES256 (EC P-256; Ed25519 for keys made before): the private half
    sealed with the key-encryption key."""

    __tablename__ = "signing_key"

    #: RFC 7638 JWK thumbprint of the public key.
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``ES256``, or ``EdDSA`` for a key made before ES256 keys.
    algorithm: Mapped[str] = mapped_column(String(16))
    #: The public key, base64url: the JWK ``x`` member (and ``y`` for an EC key).
    public_x: Mapped[str] = mapped_column(String(64))
    public_y: Mapped[str | None] = mapped_column(String(64))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a newer key took over signing: from then on this key only verifies, and it stays
    #: published until every token it signed has expired.
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: A retired key signs nothing and leaves the JWKS.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RealNameAttempt(Base):
    """One question put to the population registry, and its outcome (never the answer data)."""

    __tablename__ = "real_name_attempt"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: matched (the claim recorded) | mismatch
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


class BindingEvent(Base):
    """A change of the account an ID number is bound to, for the audit, written in the
    transaction of the face match that made it: ``bound`` (it was bound to no account) or
    ``taken`` (from another account) for the account whose face matched; ``lost`` for the
    account it was taken from, and ``claim_lost`` for each account whose claim of the number
    was removed. Account ids and the number's keyed hash only, never the number."""

    __tablename__ = "binding_event"
    __table_args__ = (
        CheckConstraint("kind IN ('bound', 'taken', 'lost', 'claim_lost')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    #: The account the event is about.
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    #: Who made the change: the account whose face match bound the number.
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"))
    #: The other account: the one it was taken from (``taken``), or the one that bound it
    #: (``lost``, ``claim_lost``).
    other_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id"))
    #: The keyed hash of the ID number: every account that claimed or held one number, in order.
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: The face match that proved the actor is the number's person.
    face_attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("face_attempt.id"))
    #: ``lost`` and ``claim_lost``: when the account's phone was told by SMS; none while it was
    #: not (yet).
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Enterprise(Base):
    """A legal person as the market-regulation registry knew it when last asked."""

    __tablename__ = "enterprise"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    #: The unified social credit code (GB 32100): public, printed on the business licence.
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    registered_region: Mapped[str] = mapped_column(String(12))
    #: ``active`` | ``deregistered``, per the registry.
    registration_status: Mapped[str] = mapped_column(String(16))
    #: When the registry last confirmed a legal representative.
    verified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EnterpriseMember(Base):
    """Who acts for an enterprise: its legal representative (confirmed by the registry) or an
    employee the representative authorised, until a date. Ended by revocation, never deleted."""

    __tablename__ = "enterprise_member"
    __table_args__ = (
        CheckConstraint("role IN ('legal_representative', 'agent')", name="role"),
        Index("ix_enterprise_member_enterprise_account", "enterprise_id", "account_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enterprise.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    #: The legal representative who authorised an agent; ``None`` for the representative.
    granted_by: Mapped[uuid.UUID | None] = mapped_column()
    #: An agent's authorisation ends then; the representative's lasts while the registry says so.
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Revocation(Base):
    """Access tokens ended before their expiry: those of a session, or of a client, issued up
    to ``issued_up_to`` (and, for a client, granted with a secret older than
    ``generations_below``). Published at ``GET /identity/v1/revocations``; deleted once every
    token it covers has expired."""

    __tablename__ = "revocation"
    __table_args__ = (CheckConstraint("kind IN ('session', 'client')", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    #: The session id (``sid``) or the client id (``sub`` of its tokens).
    subject: Mapped[str] = mapped_column(String(64))
    issued_up_to: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    generations_below: Mapped[int | None] = mapped_column()
    #: When it was written: what a poll asks for since its cursor.
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """What an administrator changed about a staff account or a client, when, and who did it:
    ids, roles and departments only, never personal data."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject_id", "subject", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The administrator's account (None: an operator's command, e.g. the seed).
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    #: ``staff.created``, ``staff.roles_changed``, ``staff.disabled``, ``client.disabled``,
    #: ``client.previous_secret_ended``, ``client.sign_in_replaced``
    action: Mapped[str] = mapped_column(String(40))
    #: The staff account's id or the client's id.
    subject: Mapped[str] = mapped_column(String(64))
    #: What changed, e.g. ``{"roles": {"before": [...], "after": [...]}}``.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    """An ``Idempotency-Key`` sent with a creating request, and the answer given (the kit's
    record)."""

    __tablename__ = "idempotency_record"
    sealing_domain = "identity"


class Offer(Base):
    """An offer to file, in one step, what a life event of hers calls for (``identity_svc.offers``):
    made from data-exchange-svc's life event, filed only once she confirms. Kept by her account
    id; ids and codes only."""

    __tablename__ = "offer"
    __table_args__ = (
        Index("ix_offer_owner_newest", "owner_id", "created_at", "id"),
        # One offer per life event and account, whatever event announced it.
        UniqueConstraint("owner_id", "life_event_id"),
        # Expired is read from expires_at, never written: an open offer past it is expired.
        CheckConstraint("status IN ('open', 'confirmed', 'declined')", name="status"),
        CheckConstraint("(bundle_code IS NULL) <> (item_code IS NULL)", name="files_one_thing"),
        CheckConstraint("status <> 'confirmed' OR application_no IS NOT NULL", name="filed"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: The life event's type, e.g. ``life.birth_registered``.
    event_type: Mapped[str] = mapped_column(String(64))
    life_event_id: Mapped[uuid.UUID] = mapped_column()
    #: What confirming files: a catalogue bundle, or one item.
    bundle_code: Mapped[str | None] = mapped_column(String(48))
    item_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The draft her confirmation opened (a bundle draft's number, or an item draft's): a
    #: confirmation tried again goes on with it rather than opening another.
    draft_no: Mapped[str | None] = mapped_column(String(40))
    #: What was filed once she confirmed: the bundle application's number, or the case's.
    application_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Bumped by every change.
    version: Mapped[int] = mapped_column(default=1, server_default="1")


#: A message is about one thing: a case (its three columns), an offer, or an access.
ABOUT_ONE_THING = (
    "(CASE WHEN case_no IS NOT NULL AND item_code IS NOT NULL AND case_status IS NOT NULL"
    " THEN 1 ELSE 0 END)"
    " + (CASE WHEN offer_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN access_notice IS NULL THEN 0 ELSE 1 END) = 1"
)


class InboxMessage(Base):
    """A message in the citizen's inbox (``identity_svc.inbox``): what happened to her case, as
    codes (the app words it): filed, moved on, waiting on her, completed and hers to rate; an
    offer made to her (``offer_id``); or an access to her data the exchange recorded
    (``access_notice``). Kept by her account id (an enterprise's by its credit code), as
    case-svc names the applicant."""

    __tablename__ = "inbox_message"
    __table_args__ = (
        Index("ix_inbox_message_owner_newest", "owner_id", "created_at", "id"),
        CheckConstraint(ABOUT_ONE_THING, name="about_one_thing"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(64))
    #: ``case_filed``, ``case_progressed``, ``action_needed``, ``case_completed``,
    #: ``rectification_reported``, ``offer``, ``data_accessed``
    kind: Mapped[str] = mapped_column(String(32))
    #: A case's message: the case, its item and the status the event reported.
    case_no: Mapped[str | None] = mapped_column(String(40))
    item_code: Mapped[str | None] = mapped_column(String(64))
    case_status: Mapped[str | None] = mapped_column(String(32))
    #: An offer's message: the offer.
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offer.id"))
    #: An access's message: who read what of hers, why, when, its ledger seq (ids and codes,
    #: as ``inbox.schemas.AccessNotice``; never a value read).
    access_notice: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: The event it came from: one message per event.
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When her phone was texted about it (what needs her action); None: not texted.
    texted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReceivedEvent(InboxEventMixin, Base):
    """The events identity-svc processed (case-svc's, for the inbox): a redelivery is not
    processed again."""

    __tablename__ = "received_event"
