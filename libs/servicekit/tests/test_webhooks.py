"""Signed deliveries: what a producer's headers sign, and the receiving department's check of
a delivery's signature and age (servicekit.webhooks)."""

import base64
import datetime as dt
import hashlib
import hmac

import orjson
import pytest

from servicekit.webhooks import (
    DeliveryRejected,
    is_secret,
    new_secret,
    signed_headers,
    verify_delivery,
)

BODY = orjson.dumps({"specversion": "1.0", "type": "life.birth_registered", "data": {"n": 1}})


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_delivery_signed_with_the_secret_just_now_is_accepted_and_read() -> None:
    secret = new_secret()
    headers = signed_headers(secret, message_id="msg-1", body=BODY, at=now())

    assert verify_delivery(BODY, headers, secret) == orjson.loads(BODY)
    # Header names as a framework may spell them.
    shouted = {name.upper(): value for name, value in headers.items()}
    assert verify_delivery(BODY, shouted, secret)["data"] == {"n": 1}


def test_the_signature_is_the_standard_webhooks_hmac_any_receiver_can_recompute() -> None:
    secret = new_secret()
    at = now()
    headers = signed_headers(secret, message_id="msg-1", body=BODY, at=at)

    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"msg-1.{int(at.timestamp())}.".encode() + BODY
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers == {
        "webhook-id": "msg-1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": f"v1,{expected}",
    }


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, headers: (body.replace(b"1}", b"2}"), headers), id="body"),
        pytest.param(lambda body, headers: (body, headers | {"webhook-id": "msg-2"}), id="id"),
        pytest.param(
            lambda body, headers: (
                body,
                headers | {"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)},
            ),
            id="timestamp",
        ),
    ],
)
def test_a_delivery_altered_after_signing_is_refused(tamper: object) -> None:
    secret = new_secret()
    headers = signed_headers(secret, message_id="msg-1", body=BODY, at=now())
    body, altered = tamper(BODY, headers)  # type: ignore[operator]

    with pytest.raises(DeliveryRejected, match="signature"):
        verify_delivery(body, altered, secret)


def test_a_delivery_signed_with_another_secret_is_refused() -> None:
    headers = signed_headers(new_secret(), message_id="msg-1", body=BODY, at=now())

    with pytest.raises(DeliveryRejected, match="signature"):
        verify_delivery(BODY, headers, new_secret())


@pytest.mark.parametrize("minutes", [-6, 6], ids=["stale", "from-the-future"])
def test_a_delivery_signed_more_than_five_minutes_from_now_is_refused(minutes: int) -> None:
    secret = new_secret()
    headers = signed_headers(
        secret, message_id="msg-1", body=BODY, at=now() + dt.timedelta(minutes=minutes)
    )

    with pytest.raises(DeliveryRejected, match=r"too (old|new)"):
        verify_delivery(BODY, headers, secret)


def test_a_delivery_within_the_tolerance_is_accepted() -> None:
    secret = new_secret()
    headers = signed_headers(
        secret, message_id="msg-1", body=BODY, at=now() - dt.timedelta(minutes=4)
    )

    assert verify_delivery(BODY, headers, secret)["type"] == "life.birth_registered"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_delivery_without_a_signing_header_is_refused(missing: str) -> None:
    secret = new_secret()
    headers = signed_headers(secret, message_id="msg-1", body=BODY, at=now())
    del headers[missing]

    with pytest.raises(DeliveryRejected, match="Missing"):
        verify_delivery(BODY, headers, secret)


@pytest.mark.parametrize("signature", ["v1", "not-a-signature", "v1,***", ""])
def test_a_malformed_signature_header_is_refused_not_raised(signature: str) -> None:
    secret = new_secret()
    headers = signed_headers(secret, message_id="msg-1", body=BODY, at=now())

    with pytest.raises(DeliveryRejected):
        verify_delivery(BODY, headers | {"webhook-signature": signature}, secret)


def test_one_of_several_signatures_suffices_while_a_secret_is_rotated() -> None:
    old, new = new_secret(), new_secret()
    at = now()
    signatures = " ".join(
        signed_headers(secret, message_id="msg-1", body=BODY, at=at)["webhook-signature"]
        for secret in (old, new)
    )
    headers = signed_headers(old, message_id="msg-1", body=BODY, at=at)

    for secret in (old, new):
        assert verify_delivery(BODY, headers | {"webhook-signature": signatures}, secret)


def test_secrets_are_random_and_of_their_form() -> None:
    secrets = {new_secret() for _ in range(20)}

    assert len(secrets) == 20
    assert all(is_secret(secret) for secret in secrets)
    assert not is_secret("whsec_c2hvcnQ=")
    assert not is_secret("sk_" + new_secret())
    assert not is_secret("whsec_!!!")
