"""Settings of identity-svc (env prefix ``IDENTITY_``).

The three secret keys (personal data, lookup hashes, key encryption) are 32 random bytes,
base64-encoded. Their defaults are public development values: fine for ``development`` and
``test``, refused at start-up when ``environment`` is ``production``.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import SecretKey, ServiceSettings, development_key, key_bytes

#: The clock skew servicekit's token verifier tolerates (``leeway``).
VERIFIER_LEEWAY_SECONDS = 5


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"

    # Secret keys. Rotating one means re-encrypting (or re-hashing) what it protects.
    #: AES-256-GCM key sealing phone numbers, names and ID numbers at rest.
    personal_data_key: SecretKey = development_key("identity personal data key")
    #: HMAC-SHA256 key of the lookup hashes that find an account by phone or ID number.
    lookup_hash_key: SecretKey = development_key("identity lookup hash key")
    #: AES-256-GCM key sealing the private signing keys stored in the database.
    key_encryption_key: SecretKey = development_key("identity key-encryption key")

    # Tokens.
    access_token_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    #: Lifetime of the tokens identity-svc mints for its own calls to other services.
    service_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)

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

    # Login throttling, per login name (a phone number, registered or not) and per client
    # address; both share the window and the lockout.
    login_max_failures: int = Field(default=5, ge=1)
    #: Higher than per name: many people share an address (a household, an office, a NAT).
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)

    # Real-name verification.
    real_name_max_attempts: int = Field(default=5, ge=1)
    real_name_attempt_window_seconds: int = Field(default=3600, ge=1)
    #: How long an answer of catalog-svc about a region code is kept in process.
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

    # One OAuth client seeded by ``python -m identity_svc.seed`` when an id is configured.
    seed_client_id: str = ""
    seed_client_secret: SecretStr = SecretStr("")
    seed_client_name: str = ""
    seed_client_type: Literal["department_system", "service"] = "department_system"
    seed_client_dept: str | None = None
    #: Space-separated scopes the seeded client may ask for.
    seed_client_scopes: str = ""

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

    @property
    def sms_outbox_path(self) -> Path:
        """Where the development sink appends the messages it would have sent."""
        return self.var_dir / "sms-outbox.jsonl"

    @property
    def signing_key_grace_seconds(self) -> int:
        """How long a superseded key stays published: the longest token it may have signed,
        plus the time other instances may still sign with it before they notice the rotation,
        plus the verifiers' leeway for clock skew."""
        longest = max(
            self.access_token_ttl_seconds,
            self.service_token_ttl_seconds,
            self.delegated_token_ttl_seconds,
        )
        return longest + self.signing_key_reload_seconds + VERIFIER_LEEWAY_SECONDS

    @property
    def personal_data_key_bytes(self) -> bytes:
        return key_bytes(self.personal_data_key)

    @property
    def lookup_hash_key_bytes(self) -> bytes:
        return key_bytes(self.lookup_hash_key)

    @property
    def key_encryption_key_bytes(self) -> bytes:
        return key_bytes(self.key_encryption_key)
