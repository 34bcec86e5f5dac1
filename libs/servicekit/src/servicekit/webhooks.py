"""Signed webhook deliveries, as the Standard Webhooks scheme signs them: what a producer adds to
a delivery, and the function a receiving department's Python system checks one with.

Each subscription has a secret of its own (``whsec_`` and 32 random bytes in base64), given to
the subscriber once. A delivery carries three headers:

- ``webhook-id``: the delivery's id (the event's id: a redelivery carries the same one, so the
  receiver can drop what it has processed);
- ``webhook-timestamp``: when it was signed, in Unix seconds;
- ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, under the secret, of
  ``{webhook-id}.{webhook-timestamp}.{body}``.

A receiver checks a delivery with ``verify_delivery`` (or any Standard Webhooks library, in
any language)::

    from servicekit.webhooks import DeliveryRejected, verify_delivery

    @app.post("/life-events")
    async def receive(request: Request) -> Response:
        try:
            event = verify_delivery(await request.body(), request.headers, SECRET)
        except DeliveryRejected:
            return Response(status_code=401)
        ...  # event["type"], event["data"]: a CloudEvent
        return Response(status_code=204)

A delivery is refused when a header is missing, the signature is not the secret's (a forged
or altered body), or it was signed more than ``TOLERANCE`` from now either way (a replay of an
old one). The signature is compared in constant time.
"""

import base64
import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any, Final

import orjson
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

#: How far a delivery's timestamp may be from the receiver's clock, either way.
TOLERANCE: Final = dt.timedelta(minutes=5)

SECRET_PREFIX: Final = "whsec_"
_SECRET_BYTES = 32


class DeliveryRejected(ValueError):
    """The delivery is not one the secret's holder signed recently: drop it (answer 401).
    The message says which check failed, never the body."""


def new_secret() -> str:
    """A subscription's secret: ``whsec_`` and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def is_secret(value: str) -> bool:
    """Whether ``value`` has a secret's form (``new_secret``'s)."""
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        return False
    return len(raw) == _SECRET_BYTES


def signed_headers(secret: str, *, message_id: str, body: bytes, at: dt.datetime) -> dict[str, str]:
    """The three headers that sign ``body`` as delivery ``message_id`` at ``at``."""
    signature = Webhook(secret).sign(message_id, at, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def verify_delivery(body: bytes, headers: Mapping[str, str], secret: str) -> Any:
    """The delivery's JSON body, if ``headers`` sign it under ``secret`` and its timestamp is
    within ``TOLERANCE`` of now; ``DeliveryRejected`` otherwise. ``headers`` may be any mapping
    (a framework's request headers): names are matched case-insensitively."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
    except WebhookVerificationError as exc:
        raise DeliveryRejected(str(exc)) from None
    except ValueError:
        # A signature header of the wrong shape (no "v1," prefix, not base64).
        raise DeliveryRejected("Malformed signature header") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DeliveryRejected("The body is not JSON") from None
