"""The gateway's word on a request, signed: the client's address it established and the
request id and trace context it stamped, so that a service believes them from the gateway
alone and a direct caller cannot forge them.

The gateway sends, with every request it forwards::

    OneVisit-Forwarded: <client address>;<unix seconds>;<tag>

where the tag is keyed BLAKE2b (RFC 7693, a MAC by design) under ``FORWARDED_KEY`` (one key
every process of the platform shares, the gateway's and the services' settings alike) over the
address, the time and the request's ``X-Request-ID`` and ``traceparent`` as sent: 128 bits, in
hex.

A service's request middleware (``servicekit.observability``) checks it once per request: when
it holds and is at most ``MAX_AGE_SECONDS`` away from the service's clock, the request id and
trace context are the gateway's and ``client_address`` is the address it names. Absent,
malformed, stale or forged, the request is a direct caller's: ``client_address`` is its own
peer address, the request id is made afresh, and the caller's id is kept apart (the access
line's ``client_request_id``). A direct caller therefore has its own address, which is what a
direct caller is.

A service signs its own calls through the gateway the same way, naming no address (its
address is its peer's): the gateway then continues their request id and trace instead of
starting new ones.

Why a keyed tag rather than trusting the network: a service cannot tell the gateway's
connections from anyone else's that reaches its port (a container beside it, a process on the
same host, a misrouted load balancer), and peer-address lists drift with every deployment.
A shared key costs one keyed hash per request on the gateway's hot path, half a microsecond
with BLAKE2b here (HMAC-SHA256 took four times as long, a signature such as Ed25519 would take
tens); the price is that every holder of the key can vouch, so it stays with the platform's own
processes.
"""

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

#: The header's name, as it is sent (HTTP names are case-insensitive).
HEADER = "onevisit-forwarded"
HEADER_BYTES = HEADER.encode("latin-1")
#: How far a signed header's time may be from the receiver's clock, either way: enough for
#: clocks kept by NTP and a request's own time in flight, short for a header copied and replayed.
MAX_AGE_SECONDS = 60
#: Where the request middleware leaves the address it established for ``client_address``.
SCOPE_KEY = "onevisit.client_address"

_CONTEXT = b"onevisit-forwarded/1"
_TAG_BYTES = 16


class Forwarding:
    """Signs and checks ``OneVisit-Forwarded`` headers with the platform's forwarding key."""

    __slots__ = ("_clock", "_keyed", "_second", "_second_text")

    def __init__(self, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        # The key's block hashed once: each tag copies the state rather than hashing it again.
        self._keyed = hashlib.blake2b(key=key, digest_size=_TAG_BYTES)
        self._clock = clock
        self._second = -1
        self._second_text = b""

    def sign(self, client: bytes, request_id: bytes, traceparent: bytes) -> bytes:
        """The header's value for a request with this id and trace context, vouching for
        ``client`` (empty: the sender names no client, it is its own)."""
        second = int(self._clock())
        if second != self._second:  # the time's text, once a second
            self._second, self._second_text = second, b"%d" % second
        at = self._second_text
        return b"%b;%b;%b" % (client, at, self._tag(client, at, request_id, traceparent))

    def verify(
        self, value: bytes | None, request_id: bytes | None, traceparent: bytes | None
    ) -> bytes | None:
        """The address a header vouches for (empty when it names none), or ``None`` when there
        is no header or it is not the platform's own for this request id and trace context."""
        if not value:
            return None
        client, _, rest = value.partition(b";")
        at, separated, tag = rest.partition(b";")
        if not separated or not at.isdigit() or len(at) > 12:
            return None
        if abs(self._clock() - int(at)) > MAX_AGE_SECONDS:
            return None
        expected = self._tag(client, at, request_id or b"", traceparent or b"")
        return client if hmac.compare_digest(expected, tag) else None

    def _tag(self, client: bytes, at: bytes, request_id: bytes, traceparent: bytes) -> bytes:
        # Newlines cannot occur in header values: the parts cannot run into one another.
        keyed = self._keyed.copy()
        keyed.update(b"\n".join((_CONTEXT, client, at, request_id, traceparent)))
        return keyed.hexdigest().encode("ascii")


def client_address(request: Request) -> str | None:
    """The address of the client a request is for: the one the gateway established and
    signed, as the request middleware checked it; else the peer's own (a direct caller)."""
    established: str | None = request.scope.get(SCOPE_KEY)
    if established is not None:
        return established
    return request.client.host if request.client else None


async def _client_address(request: Request) -> str | None:
    # A coroutine, so that FastAPI does not run it in a worker thread.
    return client_address(request)


#: The client's address, for an endpoint's parameters (``client_address`` above).
ClientAddressDep = Annotated[str | None, Depends(_client_address)]
