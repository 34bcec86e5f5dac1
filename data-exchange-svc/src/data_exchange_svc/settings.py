"""Settings of data-exchange-svc (env prefix ``EXCHANGE_``).

Citizen identity numbers are sealed with the kit's keyring (``SEALING_KEYS``, ``SEALING_KEY_ID``)
and hashed for lookup (HMAC-SHA256, ``IDENTIFIER_HASH_KEY``), so that neither the stored value
nor the lookup index reveals a number without a key; ``IDENTIFIER_ENCRYPTION_KEY`` only opens
those sealed before key ids. Another key seals the ledger's signing key in the database. The
defaults are development keys, published in this file: they serve development and tests, and a
production environment refuses to start with them.
"""

from pathlib import Path

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from data_exchange_svc.citizens.access_notices import DATA_ACCESSED
from data_exchange_svc.identifiers import legacy_opener
from data_exchange_svc.lifeevents.rules import RULES
from servicekit.events import OutboxSettings
from servicekit.sealing import LegacyOpener
from servicekit.settings import SecretKey, ServiceSettings, development_key, key_bytes

#: Where the committed synthetic datasets live in a checkout: data-exchange-svc/data/.
_SERVICE_DIR = Path(__file__).resolve().parents[2]


class ExchangeSettings(ServiceSettings, OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", frozen=True)

    service_name: str = "exchange"
    #: The one AES-256-GCM key identity numbers (and the fields that carry them) were sealed
    #: with before they were sealed with key ids (``SEALING_KEYS``): it only opens those values,
    #: until ``python -m servicekit.sealing rewrap`` has sealed each of them under the keyring
    #: (``data_exchange_svc.identifiers``). Nothing is sealed with it any more.
    identifier_encryption_key: SecretKey = development_key("identifier encryption key")
    #: HMAC-SHA256 key of the identity-number lookup hash, also the ledger's subject hash.
    identifier_hash_key: SecretKey = development_key("identifier hash key")
    #: AES-256-GCM key sealing the ledger's Ed25519 signing key in the database (32 bytes,
    #: base64).
    ledger_key_encryption_key: SecretKey = development_key("ledger key-encryption key")
    #: The most entries the ledger appends (and signs one tree head for) in one transaction.
    ledger_batch_limit: int = Field(default=512, ge=1, le=10_000)
    #: How old a process's copy of the resource catalogue may grow before it is read again:
    #: the longest a change made by another process (the seed) goes unseen.
    catalogue_refresh_seconds: float = Field(default=10.0, ge=0, le=3600)
    #: How long a process keeps a consumer's active grants on a resource: the longest a grant
    #: approved or revoked through another process goes unseen (this process's own decisions
    #: take effect at once).
    grant_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    #: How long a process remembers that a case a department names on a call is the subject's
    #: and that department's (as case-svc or the subject's consent showed): the longest a
    #: transfer of the case to another department goes unseen by calls naming it.
    case_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    #: ``redis://host:6379/0``: grants' rate counters shared by every process there; unset,
    #: each process counts alone (N processes allow N times a grant's rate).
    redis_url: str | None = None
    #: Prefix of the rate-limit keys in Redis (several platforms may share one Redis).
    redis_key_prefix: str = "onevisit:exchange:ratelimit:"
    #: How long a call waits for Redis before it passes uncounted (fail open).
    redis_timeout_seconds: float = Field(default=0.25, gt=0)
    #: The hosted population dataset that ``python -m data_exchange_svc.seed`` loads.
    population_csv: Path = _SERVICE_DIR / "data" / "population.csv"
    #: Where the seed finds the other hosted datasets: ``<resource code>.csv`` or ``.jsonl``.
    datasets_dir: Path = _SERVICE_DIR / "data"
    #: The ``sub`` of identity-svc's service token: the one caller that links accounts to
    #: registry subjects.
    identity_service: str = "identity-svc"

    # Remote resources (see remote.providers).
    #: Resource code → the provider's endpoint URL, e.g. '{"tax_clearance": "https://..."}'.
    remote_endpoints: dict[str, HttpUrl] = Field(default_factory=dict)
    remote_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    remote_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    #: Tries per question, the first included (connection faults, timeouts, 502/503/504).
    remote_attempts: int = Field(default=3, ge=1, le=10)
    remote_backoff_seconds: float = Field(default=0.1, ge=0, le=10)
    remote_backoff_max_seconds: float = Field(default=1.0, ge=0, le=30)
    #: Failed questions in a row that open a provider's circuit, and for how long.
    remote_breaker_failures: int = Field(default=5, ge=1, le=100)
    remote_breaker_reset_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Life events (see lifeevents): the platform's services told of them, departments' pushes.
    #: Event type (a life event's, or ``data.accessed``) → the paths, through the gateway, of
    #: the platform services told of it (ids only):
    #: ``{"life.birth_registered": ["/identity/v1/events"]}``. None by default.
    event_subscribers: dict[str, list[str]] = Field(default_factory=dict)
    #: data-exchange-svc's own OAuth client, with which its relay posts those events (no
    #: secret: nothing is relayed to the platform, the events wait in the outbox).
    client_id: str = "data-exchange-svc"
    client_secret: SecretStr | None = None
    #: Whether a department's endpoint may be plain http (development and tests on one
    #: machine); production pushes over https only.
    subscription_http_allowed: bool = False
    #: How long a push to a department's endpoint may take before it is retried later.
    delivery_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: How often a process sweeps for dates come due (an identity card about to expire: the
    #: ``due`` rules), at its start and then; 0: a process that leaves it to the others.
    life_event_sweep_seconds: float = Field(default=3600.0, ge=0)

    # Access notices (see citizens.access_notices): each access told to her account.
    #: Seconds between the rounds that tell the ledger's new accesses as ``data.accessed``
    #: events (when a service subscribes to it); 0: not on this replica.
    access_notice_seconds: float = Field(default=2.0, ge=0, le=3600)
    #: The most ledger entries one round looks at (and one transaction tells).
    access_notice_batch_limit: int = Field(default=500, ge=1, le=10_000)

    @field_validator("event_subscribers")
    @classmethod
    def _known_event_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = [*RULES, DATA_ACCESSED]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"no event {', '.join(unknown)}: {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _keys_differ(self) -> "ExchangeSettings":
        if key_bytes(self.identifier_encryption_key) == key_bytes(self.identifier_hash_key):
            raise ValueError("the encryption key and the hash key must differ")
        return self

    def sealing_legacy_opener(self) -> LegacyOpener:
        """Identity numbers sealed before key ids open with ``IDENTIFIER_ENCRYPTION_KEY``."""
        return legacy_opener(key_bytes(self.identifier_encryption_key))

    @property
    def ledger_key_encryption_key_bytes(self) -> bytes:
        return key_bytes(self.ledger_key_encryption_key)

    @property
    def hash_key_bytes(self) -> bytes:
        return key_bytes(self.identifier_hash_key)
