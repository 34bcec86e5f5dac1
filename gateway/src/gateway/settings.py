"""Settings of the gateway (env prefix ``GATEWAY_``).

The gateway has no database: the base class's ``database_url`` is unused. Its JWKS does not come
from ``jwks_url`` either (that would point at the gateway itself): the routing table names the
service that publishes the signing keys, and the gateway asks that service's upstream directly.
"""

from pathlib import Path

from pydantic import Field, IPvAnyNetwork, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

ROUTES_SHIPPED = Path(__file__).with_name("routes.toml")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    #: The routing table; the default is the one shipped inside the package.
    routes_file: Path = ROUTES_SHIPPED
    #: ``{"identity": "http://127.0.0.1:18001", "case": ["http://a:8003", "http://b:8003"]}``:
    #: replaces those services' upstreams (their provincial pools) from the routing table (the
    #: launcher and containers know the addresses, the file does not).
    upstreams: dict[str, str | list[str]] = Field(default_factory=dict)
    #: ``{"case": {"3303": ["http://case-wenzhou:8003"]}}``: replaces those services' region
    #: pools from the routing table (every pool of a service named; the others keep the file's).
    pools: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    #: Sent with 503 ``upstream_unavailable``: when a client may try again.
    retry_after_seconds: int = Field(default=5, ge=1)
    #: How long ``/readyz`` and ``/openapi.json`` wait for each upstream's own.
    probe_timeout_seconds: float = Field(default=2.0, gt=0)
    #: How long the aggregated OpenAPI document is reused before the upstreams are asked again.
    openapi_cache_seconds: float = Field(default=30.0, ge=0)
    #: How often the revocation list (``revocations_path`` of the routing table) is polled: a
    #: logout or a disabled account or client is refused at most about this long after.
    revocation_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    #: The least time between two JWKS fetches forced by an unknown ``kid``.
    jwks_min_refetch_seconds: float = Field(default=5.0, ge=0)
    #: The load balancers in front of the gateway, as addresses or networks
    #: (``["10.0.0.0/8", "192.0.2.10"]``). From one of them the client's address is the
    #: right-most ``X-Forwarded-For`` entry that is not one of them, the chain and the other
    #: ``X-Forwarded-*`` headers are passed on, and the request id and trace context they send
    #: are kept. From any other peer (none is trusted by default: the gateway is the edge) the
    #: client is the peer itself, those headers are dropped and the request id is the gateway's
    #: own (``gateway.forwarded``).
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    #: The largest request body passed on (413 past it): what an upload of a case's material
    #: needs (case-svc's ``CASE_MATERIAL_MAX_BYTES``, 10 MiB, and its multipart form). The
    #: routing table sets no limit per route, so this holds for every route; each service
    #: still refuses what is larger than its own ``MAX_BODY_BYTES`` (1 MiB, case-svc's raised
    #: with its materials).
    max_body_bytes: int = 10 * 1024 * 1024 + 64 * 1024
    #: Requests with more header bytes than this are refused (431).
    max_header_bytes: int = Field(default=16_384, ge=1024)
    #: A request's line and headers must arrive whole within this long of their first byte, or
    #: it is refused (408) and the connection closed: a client sending its head a byte at a
    #: time would otherwise hold a connection for ever (slowloris).
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    #: A request body that stops arriving for this long is refused (408) and the connection
    #: closed: long enough for a phone on a poor network, short of holding a slot for ever.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    #: Requests whose path and query are longer than this are refused (414).
    max_uri_bytes: int = Field(default=4096, ge=256)
    #: Origins of the app's web views allowed to call the API from a browser (CORS), e.g.
    #: ``["https://app.onevisit.example"]``; none by default.
    cors_origins: list[str] = Field(default_factory=list)
    #: How long a browser may reuse a preflight's answer.
    cors_max_age_seconds: int = Field(default=600, ge=0)
    #: ``Strict-Transport-Security: max-age=...``; sent only when set (TLS in front).
    hsts_max_age_seconds: int | None = Field(default=None, ge=0)
    #: ``redis://host:6379/0``: rate-limit counters shared by every replica there; unset, each
    #: gateway process counts alone.
    redis_url: str | None = None
    #: Prefix of the rate-limit keys in Redis (several platforms may share one Redis).
    redis_key_prefix: str = "onevisit:gateway:ratelimit:"
    #: How long a request waits for Redis before it passes uncounted (fail open).
    redis_timeout_seconds: float = Field(default=0.25, gt=0)
    #: After a reload (SIGHUP), how long requests still in flight on the replaced routing table
    #: may take before its upstream clients are closed under them.
    reload_drain_seconds: float = Field(default=60.0, gt=0)
    #: How often the routing table's file is looked at; a change (time or size) reloads it as
    #: SIGHUP does. 0: only SIGHUP reloads.
    routes_watch_seconds: float = Field(default=2.0, ge=0)
    #: The bearer token operators' Prometheus sends for ``/metrics``. Unset: only a caller on
    #: the gateway's own host (loopback) reads them; nobody from outside either way.
    metrics_token: SecretStr | None = None
