"""The clients the development platform seeds to sign citizens in, end to end through the
gateway: the demo portal authenticates with an assertion signed by the key the devtools keep in
the run's var directory (``private_key_jwt``), once per assertion; the app, a public client,
gets no token of its own."""

import time
import uuid

import jwt

from onevisit_dev.answers import problem, send
from onevisit_dev.platform import (
    APP_CLIENT_ID,
    PORTAL_CLIENT_ID,
    Platform,
    portal_private_key,
    portal_public_jwk,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_the_demo_portal_signs_in_with_its_kept_key_once_per_assertion(platform: Platform) -> None:
    var_dir = platform.config.var_dir
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": PORTAL_CLIENT_ID,
            "sub": PORTAL_CLIENT_ID,
            "aud": f"{platform.config.gateway_url}/identity/v1/token",
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        },
        portal_private_key(var_dir),
        algorithm="ES256",
        headers={"kid": portal_public_jwk(var_dir)["kid"]},
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    with platform.client() as gateway:
        granted = send(gateway, "POST", "/identity/v1/token", data=form)
        assert granted.status_code == 200, granted.text
        claims = jwt.decode(granted.json()["access_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["typ"], claims["dept"], claims["scope"]) == (
            PORTAL_CLIENT_ID,
            "department_system",
            "330302-public_security",
            "",
        )
        problem(send(gateway, "POST", "/identity/v1/token", data=form), 401, "invalid_client")


def test_the_app_gets_no_token_of_its_own(platform: Platform) -> None:
    with platform.client() as gateway:
        refused = send(
            gateway,
            "POST",
            "/identity/v1/token",
            data={"grant_type": "client_credentials", "client_id": APP_CLIENT_ID},
        )
    problem(refused, 400, "unauthorized_client")
