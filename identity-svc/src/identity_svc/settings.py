"""Settings of identity-svc (env prefix ``IDENTITY_``).

The three secret keys (personal data before key ids, lookup hashes, key encryption) are 32
random bytes, base64-encoded. Their defaults are public development values: fine for
``development`` and ``test``, refused at start-up when ``environment`` is ``production``.
Personal data is sealed with the kit's keyring (``SEALING_KEYS``, ``SEALING_KEY_ID``).
"""

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from identity_svc.oauth_clients.metadata import (
    AuthMethod,
    ClientType,
    InvalidClientMetadata,
    InvalidRedirectUri,
    check_client,
    default_auth_method,
)
from identity_svc.personal_data import legacy_opener
from servicekit.sealing import LegacyOpener
from servicekit.settings import SecretKey, ServiceSettings, development_key, key_bytes

#: The clock skew servicekit's token verifier tolerates (``leeway``).
VERIFIER_LEEWAY_SECONDS = 5

#: What a failed sign-in is counted against (``IdentitySettings.login_throttling``).
ThrottledBy = Literal["login_and_address", "login", "client_address"]


class LoginBackoff(BaseModel):
    """One throttling rule: after ``free_failures`` failed sign-ins within ``window_seconds``,
    the next attempt waits ``first_delay_seconds`` after the latest failure; each further
    failure doubles the wait, up to ``max_delay_seconds``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    free_failures: int = Field(ge=1)
    first_delay_seconds: int = Field(ge=1)
    max_delay_seconds: int = Field(ge=1)
    window_seconds: int = Field(ge=1)

    @model_validator(mode="after")
    def _grows(self) -> "LoginBackoff":
        if self.max_delay_seconds < self.first_delay_seconds:
            raise ValueError("max_delay_seconds is less than first_delay_seconds")
        return self

    @property
    def failures_that_matter(self) -> int:
        """How many of the latest failures decide the wait: with more, it is the longest."""
        doublings = 0
        while self.first_delay_seconds * 2**doublings < self.max_delay_seconds:
            doublings += 1
        return self.free_failures + doublings

    def next_attempt_at(
        self, failures: Sequence[dt.datetime], *, now: dt.datetime
    ) -> dt.datetime | None:
        """When the next attempt may be made after ``failures`` (the latest first, at least
        ``failures_that_matter`` of them when there are as many), or None: at once."""
        window = dt.timedelta(seconds=self.window_seconds)
        counted = [failure for failure in failures if now - failure < window]
        if len(counted) < self.free_failures:
            return None
        doublings = len(counted) - self.free_failures
        delay = min(self.max_delay_seconds, self.first_delay_seconds * 2**doublings)
        return counted[0] + dt.timedelta(seconds=delay)


#: The login throttling rules shipped (``IdentitySettings.login_throttling``).
LOGIN_THROTTLING: dict[ThrottledBy, LoginBackoff] = {
    "login_and_address": LoginBackoff(
        free_failures=3, first_delay_seconds=2, max_delay_seconds=300, window_seconds=3600
    ),
    "login": LoginBackoff(
        free_failures=10, first_delay_seconds=1, max_delay_seconds=60, window_seconds=3600
    ),
    "client_address": LoginBackoff(
        free_failures=100, first_delay_seconds=1, max_delay_seconds=60, window_seconds=3600
    ),
}


class SeedClient(BaseModel):
    """An OAuth client the seed registers, unless its id exists already: held to the rules an
    administrator's registration is (``oauth_clients.metadata``), and given a ``secret`` if and
    only if it authenticates with one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    secret: SecretStr | None = None
    name: str = ""
    type: ClientType = "service"
    dept: str | None = None
    scopes: str = ""
    #: None: ``none`` for an app, ``client_secret_basic`` for the others.
    auth_method: AuthMethod | None = None
    #: The client's public keys (a JWK Set), for ``private_key_jwt``.
    jwks: dict[str, Any] | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    first_party: bool = False

    @property
    def method(self) -> AuthMethod:
        return self.auth_method or default_auth_method(self.type)

    @model_validator(mode="after")
    def _registrable(self) -> "SeedClient":
        try:
            check_client(
                typ=self.type,
                auth_method=self.method,
                jwks=self.jwks,
                redirect_uris=self.redirect_uris,
                post_logout_redirect_uris=self.post_logout_redirect_uris,
            )
        except (InvalidClientMetadata, InvalidRedirectUri) as exc:
            raise ValueError(f"the seeded client {self.id}: {exc.detail}") from exc
        if (self.secret is not None) != (self.method == "client_secret_basic"):
            raise ValueError(
                f"the seeded client {self.id} has a secret if and only if it authenticates "
                "with client_secret_basic"
            )
        return self


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"

    # Secret keys. Rotating one means re-encrypting (or re-hashing) what it protects.
    #: The one AES-256-GCM key phone numbers, names and ID numbers were sealed with before they
    #: were sealed with key ids (``SEALING_KEYS``): it only opens those values, until
    #: ``python -m servicekit.sealing rewrap`` has sealed each of them under the keyring
    #: (``identity_svc.personal_data``). Nothing is sealed with it any more.
    personal_data_key: SecretKey = development_key("identity personal data key")
    #: HMAC-SHA256 key of the lookup hashes that find an account by phone or ID number.
    lookup_hash_key: SecretKey = development_key("identity lookup hash key")
    #: AES-256-GCM key sealing the private signing keys stored in the database.
    key_encryption_key: SecretKey = development_key("identity key-encryption key")

    # Tokens.
    access_token_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    #: Staff sessions end far sooner than citizens': a workbench left signed in on a shared
    #: office computer, or an account disabled, must not hold a month's refresh token.
    staff_refresh_token_ttl_seconds: int = Field(default=12 * 3600, ge=600)
    #: Lifetime of the tokens identity-svc mints for its own calls to other services.
    service_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)

    #: case-svc's OAuth client: the only caller whose events (``case.submitted``,
    #: ``case.status_changed``, ``case.completed``) ``POST /identity/v1/events`` takes into the
    #: applicants' inboxes.
    case_client_id: str = Field(default="case-svc", min_length=1)
    #: rating-svc's: its ``rectification.reported`` tells the citizen her bad review was
    #: answered.
    rating_client_id: str = Field(default="rating-svc", min_length=1)
    #: data-exchange-svc's: its life events (``life.birth_registered`` …) become offers in
    #: the citizens' inboxes (``identity_svc.offers``).
    exchange_client_id: str = Field(default="data-exchange-svc", min_length=1)
    #: How often identity-svc reads the revocation list it publishes into the list its own token
    #: verifier holds (the gateway polls ``GET /identity/v1/revocations`` at its own interval).
    revocation_poll_seconds: float = Field(default=2.0, gt=0, le=60)

    # Signing keys.
    #: How often each instance looks for a newer signing key (a rotation made elsewhere).
    signing_key_reload_seconds: int = Field(default=60, ge=1, le=3600)
    #: Rotate the signing key automatically once it is this old; 0 rotates only on command
    #: (``python -m identity_svc.keys rotate``).
    signing_key_max_age_days: int = Field(default=0, ge=0)

    # One-time sign-in codes by SMS.
    #: ``sink`` (development and tests: messages appended to ``<var_dir>/sms-outbox.jsonl``,
    #: refused in production) or ``http`` (POST to ``sms_endpoint``).
    sms_sender: Literal["sink", "http"] = "sink"
    #: The SMS gateway's URL: it receives ``{"to", "text"}`` as JSON with a Bearer key.
    sms_endpoint: str = ""
    sms_api_key: SecretStr = SecretStr("")
    sms_code_ttl_seconds: int = Field(default=300, ge=30, le=1800)
    sms_code_max_attempts: int = Field(default=5, ge=1, le=10)
    #: The least time between two codes for the same phone.
    sms_resend_interval_seconds: int = Field(default=60, ge=1)

    # Delegation.
    #: The longest term a citizen may delegate for.
    delegation_max_days: int = Field(default=366, ge=1, le=3660)
    #: Lifetime of a token a delegate obtains by token exchange (no refresh token: exchange again).
    delegated_token_ttl_seconds: int = Field(default=300, ge=30, le=900)

    # OAuth clients (department systems, internal services).
    #: How long a client's previous secret keeps working after a rotation.
    client_secret_overlap_hours: int = Field(default=24, ge=0, le=720)

    #: The password grant (the phone number and password sent to the token endpoint): for the
    #: platform's first-party development use. RFC 9700 forbids it: the app signs in by the
    #: authorization code flow with PKCE, or by SMS code. None: on, except in production.
    password_grant_enabled: bool | None = None

    # OpenID Connect (``identity_svc.oidc``): department portals and the app sign citizens in
    # at identity-svc's own pages.
    #: How long an authorization request waits for the citizen to sign in and consent.
    authorization_request_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    #: How long an authorization code may wait for its exchange (single-use in any case).
    authorization_code_ttl_seconds: int = Field(default=60, ge=10, le=600)
    #: How long a sign-in at identity-svc's pages signs the browser in to every client.
    browser_session_ttl_seconds: int = Field(default=8 * 3600, ge=300, le=7 * 24 * 3600)
    #: The longest lifetime a ``private_key_jwt`` client assertion may claim (RFC 7523).
    client_assertion_max_seconds: int = Field(default=300, ge=30, le=3600)

    # Enterprises. Tokens for an enterprise come by token exchange too, with the delegated
    # tokens' lifetime.
    #: The longest term a legal representative may authorise an employee for.
    enterprise_agent_max_days: int = Field(default=366, ge=1, le=3660)

    # Passwords (argon2id). Chosen by measurement so that one login costs 50-100 ms of one core.
    # The platform's 2-core machines differ: on one kind t=4, m=19 MiB, p=1 took 56-71 ms; on
    # the current kind it takes 33 ms, and t=3, m=32 MiB, p=1 takes 66-68 ms (t=3, m=64 MiB,
    # p=4, the RFC 9106 low-memory profile, took 184-511 ms; parallelism buys nothing on 2
    # cores). Stored hashes keep their own parameters and are rehashed at the next login.
    # Re-measure on the target hosts: uv run python -m bench.identity_tokens --only argon2
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=32_768, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    #: Hashes computed at once per process (each holds ``argon2_memory_kib``); others queue.
    password_hash_concurrency: int = Field(default=4, ge=1)

    # Login throttling (``identity_svc.tokens.service``): failed sign-ins slow the next attempt,
    # none locks an account. Each failure counts against three rules at once.
    #: ``login_and_address``: one login name from one address (the owner mistyping, or one
    #: place guessing one account): few free failures, waits doubling to minutes.
    #: ``login``: one login name from anywhere (guessing from many addresses): more free
    #: failures and waits capped short, so that nobody can keep the owner out for long.
    #: ``client_address``: one address at any login name (spraying): many free failures, as a
    #: household, an office or a carrier's NAT shares one address.
    #: Guessing stays bounded: about 300 a day at one account from one address, 1,440 a day
    #: at one account from any number of addresses, 2,400 a day from one address.
    login_throttling: dict[ThrottledBy, LoginBackoff] = Field(
        default_factory=lambda: dict(LOGIN_THROTTLING)
    )
    #: An address the account signed in from within this many days is the owner's: only its
    #: own ``login_and_address`` failures slow it, whatever others fail at from elsewhere.
    login_known_address_days: int = Field(default=30, ge=1)

    # Real-name verification.
    real_name_max_attempts: int = Field(default=5, ge=1)
    real_name_attempt_window_seconds: int = Field(default=3600, ge=1)
    #: How long an answer of catalog-svc about a region code or a department id is kept in
    #: process.
    region_cache_seconds: float = Field(default=3600.0, ge=0)

    # Face verification.
    face_challenge_ttl_seconds: int = Field(default=120, ge=1, le=600)
    face_match_threshold: float = Field(default=0.80, gt=0.0, le=1.0)
    face_max_failures: int = Field(default=5, ge=1)
    face_lockout_seconds: int = Field(default=1800, ge=1)
    #: How long a face match keeps the account at level of assurance 3.
    face_assurance_window_seconds: int = Field(default=600, ge=60, le=3600)

    # The first platform administrator, seeded by ``python -m identity_svc.seed`` when a phone
    # is configured: the staff account every other staff account descends from.
    seed_admin_phone: str = ""
    seed_admin_password: SecretStr = SecretStr("")
    #: Seed the demo staff too (``identity_svc.demo_staff``: a platform administrator and the
    #: handlers and supervisors of the README's journeys, with published passwords), so that a
    #: developer can try the workbench; ``make run`` sets it. Refused in production.
    seed_demo_staff: bool = False

    # One OAuth client seeded by ``python -m identity_svc.seed`` when an id is configured (and
    # any number more with ``seed_clients``).
    seed_client_id: str = ""
    seed_client_secret: SecretStr = SecretStr("")
    seed_client_name: str = ""
    seed_client_type: Literal["department_system", "service"] = "department_system"
    seed_client_dept: str | None = None
    #: Space-separated scopes the seeded client may ask for.
    seed_client_scopes: str = ""
    #: More OAuth clients the seed registers (JSON: a list of ``{"id", "secret", "name",
    #: "type", "dept", "scopes"}``, and for a client that signs citizens in ``"auth_method"``,
    #: ``"jwks"``, ``"redirect_uris"``, ``"post_logout_redirect_uris"``, ``"first_party"``:
    #: ``SeedClient``), e.g. each platform service's own, a department's portal, the app;
    #: beside the one of ``seed_client_*``, never instead. An id named twice is refused.
    seed_clients: list[SeedClient] = Field(default_factory=list)

    @property
    def clients_to_seed(self) -> list[SeedClient]:
        """Every client the seed registers: ``seed_client_*``'s, then ``seed_clients``."""
        single = (
            [
                SeedClient(
                    id=self.seed_client_id,
                    secret=self.seed_client_secret,
                    name=self.seed_client_name,
                    type=self.seed_client_type,
                    dept=self.seed_client_dept,
                    scopes=self.seed_client_scopes,
                )
            ]
            if self.seed_client_id
            else []
        )
        return [*single, *self.seed_clients]

    @property
    def password_grant_on(self) -> bool:
        """Whether the token endpoint takes the password grant (``password_grant_enabled``)."""
        if self.password_grant_enabled is None:
            return self.environment != "production"
        return self.password_grant_enabled

    @model_validator(mode="after")
    def _each_seeded_client_once(self) -> "IdentitySettings":
        ids = [client.id for client in self.clients_to_seed]
        twice = sorted({client_id for client_id in ids if ids.count(client_id) > 1})
        if twice:
            raise ValueError(f"a seeded client is named twice: {', '.join(twice)}")
        return self

    @model_validator(mode="after")
    def _every_throttle_has_its_rule(self) -> "IdentitySettings":
        missing = {"login_and_address", "login", "client_address"} - set(self.login_throttling)
        if missing:
            raise ValueError(f"login_throttling needs a rule for {', '.join(sorted(missing))}")
        return self

    @model_validator(mode="after")
    def _sms_sender_usable(self) -> "IdentitySettings":
        if self.sms_sender == "sink" and self.environment == "production":
            raise ValueError(
                "production refuses the development SMS sink: set IDENTITY_SMS_SENDER=http "
                "and IDENTITY_SMS_ENDPOINT"
            )
        if self.sms_sender == "http" and not self.sms_endpoint:
            raise ValueError("IDENTITY_SMS_SENDER=http needs IDENTITY_SMS_ENDPOINT")
        return self

    @model_validator(mode="after")
    def _no_demo_staff_in_production(self) -> "IdentitySettings":
        # Their passwords are in the README: in production they would be open doors.
        if self.seed_demo_staff and self.environment == "production":
            raise ValueError(
                "production refuses the demo staff, whose passwords are published: unset "
                "IDENTITY_SEED_DEMO_STAFF"
            )
        return self

    @property
    def sms_outbox_path(self) -> Path:
        """Where the development sink appends the messages it would have sent."""
        return self.var_dir / "sms-outbox.jsonl"

    @property
    def signing_key_grace_seconds(self) -> int:
        """How long a superseded key stays published: the longest token it may have signed,
        plus the time other instances may still sign with it before they notice the rotation,
        plus the verifiers' leeway for clock skew."""
        return (
            self.longest_token_seconds + self.signing_key_reload_seconds + VERIFIER_LEEWAY_SECONDS
        )

    @property
    def longest_token_seconds(self) -> int:
        """The longest lifetime of any access token identity-svc issues."""
        return max(
            self.access_token_ttl_seconds,
            self.service_token_ttl_seconds,
            self.delegated_token_ttl_seconds,
        )

    @property
    def revocation_lifetime(self) -> dt.timedelta:
        """How long a revocation entry is kept after the last token it covers was issued: by
        then that token has expired, leeway for clock skew included."""
        return dt.timedelta(seconds=self.longest_token_seconds + VERIFIER_LEEWAY_SECONDS)

    @property
    def session_token_horizon(self) -> dt.timedelta:
        """How long after a session last issued an access token a token obtained through it can
        still be valid: that token's lifetime, then a delegated token exchanged for it at its
        last moment (it carries the session too), plus the leeway."""
        return dt.timedelta(
            seconds=self.access_token_ttl_seconds
            + self.delegated_token_ttl_seconds
            + VERIFIER_LEEWAY_SECONDS
        )

    def refresh_token_ttl_for(self, typ: str) -> dt.timedelta:
        """How long a refresh token of an account of this type lives."""
        seconds = (
            self.staff_refresh_token_ttl_seconds
            if typ == "staff"
            else self.refresh_token_ttl_seconds
        )
        return dt.timedelta(seconds=seconds)

    def sealing_legacy_opener(self) -> LegacyOpener:
        """Personal data sealed before key ids opens with ``PERSONAL_DATA_KEY``."""
        return legacy_opener(key_bytes(self.personal_data_key))

    @property
    def lookup_hash_key_bytes(self) -> bytes:
        return key_bytes(self.lookup_hash_key)

    @property
    def key_encryption_key_bytes(self) -> bytes:
        return key_bytes(self.key_encryption_key)
