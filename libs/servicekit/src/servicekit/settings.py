"""The settings base class. Each service subclasses it with its own env prefix (``CASE_`` ...).

Secret keys are ``SecretKey`` fields: 32 random bytes, base64-encoded, checked when settings
load. A key may default to ``development_key(label)``, a value anyone can read in this code, so
that development and tests run with no configuration; every such default is refused when
``environment`` is ``production``, naming the variables to set.
"""

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit import sealing
from servicekit.sealing import Keyring, LegacyOpener

_DEVELOPMENT_KEYS: set[str] = set()


def development_key(label: str) -> SecretStr:
    """A public key for development and tests: refused in production."""
    digest = hashlib.sha256(f"onevisit development {label}".encode()).digest()
    value = base64.b64encode(digest).decode()
    _DEVELOPMENT_KEYS.add(value)
    return SecretStr(value)


def key_bytes(secret: SecretStr) -> bytes:
    """The 32 bytes of a key written in standard or URL-safe base64."""
    text = secret.get_secret_value().strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a key is 32 random bytes, base64-encoded: this is not base64") from exc
    if len(key) != 32:
        raise ValueError(f"a key is 32 random bytes, base64-encoded: this is {len(key)} bytes")
    return key


def _usable_key(secret: SecretStr) -> SecretStr:
    key_bytes(secret)
    return secret


SecretKey = Annotated[SecretStr, AfterValidator(_usable_key)]


def _secrets(value: object) -> list[str]:
    """The secret strings a setting holds (itself, or a keyring's keys)."""
    values = value.values() if isinstance(value, dict) else [value]
    return [item.get_secret_value() for item in values if isinstance(item, SecretStr)]


def _is_development_key(value: object) -> bool:
    """Whether a setting's value is, or a keyring of it holds, a development key."""
    return any(secret in _DEVELOPMENT_KEYS for secret in _secrets(value))


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``service_name`` and ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    #: Empty means the embedded default: a SQLite file ``var/<service_name>.db``.
    database_url: str = ""
    #: On PostgreSQL, how prepared statements are planned (``servicekit.db.PlanCacheMode``).
    database_plan_cache_mode: Literal["auto", "force_custom_plan"] = "auto"
    var_dir: Path = Path("var")
    #: Where service-to-service calls go: the gateway, so that tier routing lives in one place.
    gateway_url: str = "http://127.0.0.1:8000"
    #: Empty means the identity service's JWKS through the gateway.
    jwks_url: str = ""
    jwks_cache_seconds: float = 300.0
    #: The tokens' issuer (``iss``): identity-svc's public URL as clients reach it, which is
    #: also its OpenID Connect issuer (discovery is at ``<issuer>/.well-known/...``). Empty
    #: means ``<gateway_url>/identity/v1``; where the gateway's public address differs from
    #: ``gateway_url``, every process sets the same public one.
    token_issuer: str = ""
    token_audience: str = "onevisit"
    http_timeout_seconds: float = 5.0
    http_connect_timeout_seconds: float = 2.0
    http_max_connections: int = 100
    #: Once started, move every object made so far out of the cyclic garbage collector's sight
    #: (``gc.freeze()``): they live as long as the process, and full collections no longer walk
    #: them (in the exchange's bench this cut p99 from ~180 to ~110 ms at 32 requests in
    #: flight). Off where one process starts many apps (the tests): each start would keep the
    #: garbage of the previous ones for good.
    freeze_startup_objects: bool = True
    #: Allocations between two collections of the youngest generation (``gc.set_threshold``'s
    #: first number; CPython's is 700). A request allocates thousands of objects that die with
    #: it, so at 700 a collection ran several times per request for nothing: at 20,000 the
    #: exchange's workers spent 5-10 % less CPU per call (``bench.exchange_ledger`` (3)).
    gc_young_threshold: int = Field(default=20_000, ge=100)
    max_body_bytes: int = 1_048_576
    #: How long an ``Idempotency-Key`` and its answer are kept (a retry after that is new).
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    #: How long a request's claim on its key holds while it runs: a retry after a process
    #: died mid-request waits this long, then is performed. Longer than any request takes.
    idempotency_lock_seconds: int = Field(default=60, ge=5)
    #: Items per page of a list when the request names no ``limit`` (``servicekit.pagination``).
    default_page_size: int = Field(default=20, ge=1, le=1000)
    #: The most items one page holds, whatever ``limit`` asks.
    max_page_size: int = Field(default=100, ge=1, le=1000)
    #: Signs list cursors (``servicekit.pagination``): every replica of a service needs the same.
    cursor_key: SecretKey = development_key("cursor")
    #: Keys the digests of requests kept with their ``Idempotency-Key`` (bodies may hold
    #: identity numbers or initial passwords): replicas of a service share it.
    request_digest_key: SecretKey = development_key("request digest")
    #: Key-encryption keys of the personal data sealed at rest (``servicekit.sealing``), by id
    #: (a name without dots); ``sealing_key_id`` names the one new values are sealed with.
    sealing_keys: dict[str, SecretKey] = Field(
        default_factory=lambda: {"dev": development_key("sealing")}
    )
    sealing_key_id: str = "dev"
    #: Signs what the gateway vouches for with each request it forwards (the client's address,
    #: the request id: ``servicekit.forwarding``): the gateway and every service share it.
    forwarded_key: SecretKey = development_key("forwarded")
    log_level: str = "INFO"
    log_json: bool = True
    #: Where the process's spans go: an OTLP/HTTP traces endpoint, e.g.
    #: ``http://otel-collector:4318/v1/traces`` (``servicekit.tracing``). Empty: tracing off.
    otlp_traces_endpoint: str = ""
    #: The share of the traces this process starts that are sampled (a trace a caller sampled
    #: follows the caller's decision).
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @property
    def sealing_domain(self) -> str:
        """The name a service's sealed columns are declared under: its env prefix's word
        (``CASE_`` → ``case``), the same for every instance of the service."""
        prefix = str(self.model_config.get("env_prefix", "")).rstrip("_").lower()
        return prefix or self.service_name

    def sealing_keyring(self) -> Keyring:
        return Keyring(
            {key_id: key_bytes(key) for key_id, key in self.sealing_keys.items()},
            self.sealing_key_id,
        )

    def sealing_legacy_opener(self) -> LegacyOpener | None:
        """How the service opens values it sealed for their row before key ids, in a single-key
        format of its own (``servicekit.sealing``); None for a service that has none."""
        return None

    def install_sealing(self) -> None:
        """Let this process seal and open the service's sealed columns (its app does this at
        start; a script writing them without the app, such as a seed, calls it itself)."""
        sealing.install(
            self.sealing_domain, self.sealing_keyring(), legacy=self.sealing_legacy_opener()
        )

    @property
    def cursor_key_bytes(self) -> bytes:
        return key_bytes(self.cursor_key)

    @property
    def request_digest_key_bytes(self) -> bytes:
        return key_bytes(self.request_digest_key)

    @property
    def forwarded_key_bytes(self) -> bytes:
        return key_bytes(self.forwarded_key)

    @classmethod
    def development_key_fields(cls) -> tuple[str, ...]:
        """The settings whose default is a development key, or a keyring of them: what a
        production deployment must set, each to a key drawn at random."""
        return tuple(
            name
            for name, field in cls.model_fields.items()
            if _is_development_key(field.get_default(call_default_factory=True))
        )

    @model_validator(mode="after")
    def _embedded_defaults(self) -> "ServiceSettings":
        # Frozen model: fill derived defaults through object.__setattr__ once, at construction.
        if not self.database_url:
            path = self.var_dir / f"{self.service_name}.db"
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if not self.jwks_url:
            url = f"{self.gateway_url.rstrip('/')}/identity/v1/.well-known/jwks.json"
            object.__setattr__(self, "jwks_url", url)
        if not self.token_issuer:
            issuer = f"{self.gateway_url.rstrip('/')}/identity/v1"
            object.__setattr__(self, "token_issuer", issuer)
        return self

    @model_validator(mode="after")
    def _no_development_keys_in_production(self) -> "ServiceSettings":
        if self.environment != "production":
            return self
        prefix = str(self.model_config.get("env_prefix", ""))
        public = [
            f"{prefix}{name}".upper()
            for name in type(self).model_fields
            if _is_development_key(getattr(self, name))
        ]
        if public:
            raise ValueError(
                "production refuses the development keys; set "
                + ", ".join(public)
                + " to 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
            )
        return self
