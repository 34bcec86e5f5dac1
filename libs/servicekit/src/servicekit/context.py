"""The current request's id and trace context, shared by logs, problems and outgoing calls."""

import contextvars

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: (trace id, this service's span id) of the W3C trace context.
trace: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "trace", default=None
)
#: The browser a platform page serves (``web``), by the address the gateway vouched for: its
#: calls through the gateway are signed naming it, so that the gateway, and the services after
#: it, count sign-ins and rate limits by the person's address, not by the page server's.
on_behalf_of: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "on_behalf_of", default=None
)


def current_request_id() -> str | None:
    return request_id.get()


def outgoing_trace_headers() -> dict[str, str]:
    """Headers that carry this request's id and trace context to the next hop."""
    headers: dict[str, str] = {}
    current = request_id.get()
    if current:
        headers["x-request-id"] = current
    span = trace.get()
    if span:
        trace_id, span_id = span
        headers["traceparent"] = f"00-{trace_id}-{span_id}-01"
    return headers
