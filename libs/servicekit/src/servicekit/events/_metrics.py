"""The relay's Prometheus metrics, registered once per process in the default registry (the one
``/metrics`` serves). Labels are bounded: event types and subscriber paths are configuration,
failure reasons are short codes."""

from prometheus_client import Counter, Gauge

DELIVERED = Counter(
    "outbox_events_delivered",
    "Events delivered to a subscriber (answered 2xx)",
    ["type", "subscriber"],
)
DELIVERY_FAILURES = Counter(
    "outbox_delivery_failures",
    "Delivery attempts that failed, by reason (http_503, timeout, connect_error, ...)",
    ["type", "subscriber", "reason"],
)
DEAD_LETTERED = Counter(
    "outbox_events_dead_lettered",
    "Events given up on for a subscriber (a permanent refusal, or attempts exhausted)",
    ["type", "subscriber"],
)
PENDING = Gauge(
    "outbox_events_pending",
    "Deliveries waiting in the outbox, by event type (as of the relay's last look)",
    ["type"],
)
OLDEST_PENDING_AGE = Gauge(
    "outbox_oldest_pending_age_seconds",
    "Age of the oldest delivery waiting in the outbox, by event type",
    ["type"],
)
