"""What every OneVisit service shares, and nothing domain-specific.

Modules, each imported by name (``from servicekit.db import SessionDep``):

- ``settings``     the settings base class (pydantic-settings), one env prefix per service
- ``db``           async engine and sessions, the request-owned transaction, naming convention
- ``migrations``   the Alembic env helper every service's ``migrations/env.py`` calls
- ``problems``     RFC 9457 problem details: ``DomainError`` and the handlers that render it
- ``observability`` JSON logs, request ids, trace context, Prometheus metrics, health routes
- ``http``         the pooled httpx client factory for calls through the gateway
- ``forwarding``   the gateway's signed word on a request: the client's address, the request id
- ``auth``         access-token verification against a JWKS, the typed ``Principal``, and the
                   scopes an operation requires (``requires_scopes``)
- ``regions``      ``RegionCode``: the official hierarchical region codes
- ``resident_id``  GB 11643 citizen identity numbers
- ``ids``          UUIDv7 ids
- ``app``          ``build_app``: one FastAPI application assembled the same way for every service
- ``events``       the transactional outbox, its relay and the consumer's inbox (CloudEvents)
- ``testing``      the pytest plugin: a real database per run, each test isolated, a client
"""
