"""The gateway: OneVisit's one entry.

It routes each request by service prefix and region (tier routing) to an upstream instance,
rejects requests without a valid access token early (public routes excepted), limits request
rates, answers upstream faults as problems and serves the platform's health, metrics and
aggregated OpenAPI document.

Modules: ``settings`` (GATEWAY_ settings), ``routing`` (the routing table, read from
``routes.toml``), ``ratelimits`` (token buckets by route class), ``upstreams`` (the pools of
instances: balancing, health, ejection, breakers, retries, and the faults they raise), ``wire``
(the kept-alive HTTP/1.1 client requests are forwarded with), ``messages`` (the request and answer
the proxy passes along), ``edge`` (request limits, strict paths, CORS, security headers),
``forwarded`` (trusted proxies and the client's address), ``proxy`` (the forwarding path),
``operations`` (health, readiness, metrics, docs), ``openapi`` (the aggregated document),
``main`` (``Gateway`` and ``create_app``), ``server`` (its HTTP server).
"""
