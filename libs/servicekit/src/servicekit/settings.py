"""The settings base class. Each service subclasses it with its own env prefix (``CASE_`` ...)."""

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``service_name`` and ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    #: Empty means the embedded default: a SQLite file ``var/<service_name>.db``.
    database_url: str = ""
    var_dir: Path = Path("var")
    #: Where service-to-service calls go: the gateway, so that tier routing lives in one place.
    gateway_url: str = "http://127.0.0.1:8000"
    #: Empty means the identity service's JWKS through the gateway.
    jwks_url: str = ""
    jwks_cache_seconds: float = 300.0
    token_issuer: str = "onevisit-identity"
    token_audience: str = "onevisit"
    http_timeout_seconds: float = 5.0
    http_connect_timeout_seconds: float = 2.0
    http_max_connections: int = 100
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _embedded_defaults(self) -> "ServiceSettings":
        # Frozen model: fill derived defaults through object.__setattr__ once, at construction.
        if not self.database_url:
            path = self.var_dir / f"{self.service_name}.db"
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if not self.jwks_url:
            url = f"{self.gateway_url.rstrip('/')}/identity/v1/.well-known/jwks.json"
            object.__setattr__(self, "jwks_url", url)
        return self
