"""Settings of the gateway (env prefix ``GATEWAY_``).

The gateway has no database: the base class's ``database_url`` is unused. Its JWKS does not come
from ``jwks_url`` either (that would point at the gateway itself): the routing table names the
service that publishes the signing keys, and the gateway asks that service's upstream directly.
"""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

ROUTES_SHIPPED = Path(__file__).with_name("routes.toml")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    #: The routing table; the default is the one shipped inside the package.
    routes_file: Path = ROUTES_SHIPPED
    #: ``{"identity": "http://127.0.0.1:18001", ...}``: replaces those services' upstreams from
    #: the routing table (the launcher and containers know the addresses, the file does not).
    upstreams: dict[str, str] = Field(default_factory=dict)
    #: Sent with 503 ``upstream_unavailable``: when a client may try again.
    retry_after_seconds: int = Field(default=5, ge=1)
    #: How long ``/readyz`` and ``/openapi.json`` wait for each upstream's own.
    probe_timeout_seconds: float = Field(default=2.0, gt=0)
    #: How long the aggregated OpenAPI document is reused before the upstreams are asked again.
    openapi_cache_seconds: float = Field(default=30.0, ge=0)
    #: The least time between two JWKS fetches forced by an unknown ``kid``.
    jwks_min_refetch_seconds: float = Field(default=5.0, ge=0)
    #: Behind a trusted load balancer, append to its ``X-Forwarded-For``; at the edge (default),
    #: replace whatever the client sent, which anyone can forge.
    trust_forwarded_headers: bool = False
