"""A department's portal that knows only OpenID Connect signs a citizen in, end to end: real
processes, through the gateway, driven by a standard OIDC client library (Authlib) as a portal
would use it: discovery, the authorization URL with PKCE, the sign-in pages posted as a browser
posts them, consent, the code's exchange authenticated by ``private_key_jwt``, the ID token
validated by the library, userinfo, refresh, RP-initiated logout; and the refusals a portal can
meet, each a standard OAuth/OIDC error."""

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet
from joserfc.jws import JWSRegistry

from onevisit_dev.answers import bearer
from onevisit_dev.callers import register_citizen
from onevisit_dev.platform import Platform

from .conftest import FaceOf

pytestmark = [
    pytest.mark.e2e,
    # Authlib's httpx integration announces a move to another package; it works as it is.
    pytest.mark.filterwarnings("ignore:The httpx module is deprecated:DeprecationWarning"),
]

REDIRECT = "http://127.0.0.1:8765/callback"
LOGGED_OUT = "http://127.0.0.1:8765/"
#: Of the synthetic population, a Ningbo resident no other story uses: the citizen who signs
#: in to the portal at level 3.
RESIDENT = ("330225196009155255", "肖荣辉")


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's ``private_key_jwt``, each assertion living a minute: Authlib's default is an
    hour, and identity-svc takes none meant to live longer than five minutes
    (``IDENTITY_CLIENT_ASSERTION_MAX_SECONDS``)."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        return private_key_jwt_sign(
            ECKey.import_key(auth.client_secret),
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=60,
        )


@dataclass
class Portal:
    client_id: str
    private_key_pem: str
    metadata: dict[str, Any]

    def client(self, gateway_url: str, **kwargs: Any) -> OAuth2Client:
        """The portal's OAuth client, as Authlib makes one: it signs its own assertions."""
        token_endpoint = self.metadata["token_endpoint"]
        client = OAuth2Client(
            client_id=self.client_id,
            client_secret=self.private_key_pem,
            token_endpoint_auth_method="private_key_jwt",
            redirect_uri=REDIRECT,
            scope="openid profile phone",
            code_challenge_method="S256",
            base_url=gateway_url,
            **kwargs,
        )
        client.register_client_auth_method(ShortLivedPrivateKeyJWT(token_endpoint, alg="ES256"))
        return client

    def id_token_claims(self, gateway: httpx.Client, token: dict[str, Any], nonce: str) -> Any:
        """Validated as Authlib's OpenID client does (``OpenIDMixin.parse_id_token``)."""
        jwks = gateway.get(self.metadata["jwks_uri"]).json()
        decoded = jose_jwt.decode(
            token["id_token"],
            key=KeySet.import_key_set(jwks),
            registry=JWSRegistry(
                algorithms=self.metadata["id_token_signing_alg_values_supported"],
                strict_check_header=False,
            ),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [self.metadata["issuer"]]}},
            {"nonce": nonce, "client_id": self.client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=60)
        return claims


@pytest.fixture(scope="module")
def portal(platform: Platform, platform_admin: str) -> Portal:
    """A department's portal registered by the platform administrator, with the public half of
    a key it made itself."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = ECKey.import_key(pem).as_dict(private=False)
    with platform.client() as gateway:
        metadata = gateway.get("/identity/v1/.well-known/openid-configuration").json()
        registered = gateway.post(
            "/identity/v1/clients",
            json={
                "client_id": f"ds-330302-public-security-portal-{secrets.token_hex(3)}",
                "name": "鹿城区公安分局网上办事大厅（合成数据）",
                "typ": "department_system",
                "dept": "330302-public_security",
                "auth_method": "private_key_jwt",
                "jwks": {"keys": [{**public, "kid": "portal-1", "use": "sig", "alg": "ES256"}]},
                "redirect_uris": [REDIRECT],
                "post_logout_redirect_uris": [LOGGED_OUT],
            },
            headers=bearer(platform_admin),
        )
    assert registered.status_code == 201, registered.text
    return Portal(registered.json()["client_id"], pem, metadata)


@pytest.fixture
def closing() -> Iterator[Callable[[OAuth2Client], OAuth2Client]]:
    """Closes the OAuth clients a test makes when it ends."""
    made: list[OAuth2Client] = []

    def keep(client: OAuth2Client) -> OAuth2Client:
        made.append(client)
        return client

    yield keep
    for client in made:
        client.close()


@pytest.fixture
def browser(platform: Platform) -> Iterator[httpx.Client]:
    """A phone's browser: its own cookies, redirects followed within the platform."""
    with platform.client() as client:
        yield client


def browse(browser: httpx.Client, url: str, data: dict[str, str] | None = None) -> httpx.Response:
    """Go (or post a form), following redirects until a page, or until the browser is sent
    back to the portal."""
    response = browser.post(url, data=data) if data is not None else browser.get(url)
    while response.status_code in (302, 303):
        location = response.headers["location"]
        if not location.startswith("/"):  # sent back to the client
            return response
        response = browser.get(location)
    return response


def post_form(browser: httpx.Client, page: httpx.Response, **fields: str) -> httpx.Response:
    """Fill in the page's form whose ``step`` is the one given and submit it."""
    text = page.text
    step = fields["step"]
    for form in text.split("<form")[1:]:
        if f'value="{step}"' in form:
            action = unescape(form.split('action="', 1)[1].split('"', 1)[0])
            return browse(browser, action, data=fields)
    raise AssertionError(f"no form of step {step} in the page: {text[:500]}")


def sent_back(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text[:500]
    return {
        name: values[0]
        for name, values in parse_qs(urlsplit(response.headers["location"]).query).items()
    }


def test_discovery_is_published_through_the_gateway(platform: Platform) -> None:
    with platform.client() as gateway:
        response = gateway.get("/identity/v1/.well-known/openid-configuration")
        assert response.status_code == 200
        metadata = response.json()
        assert metadata["issuer"] == f"{platform.config.gateway_url}/identity/v1"
        keys = gateway.get(metadata["jwks_uri"])
        assert keys.status_code == 200
        assert keys.json()["keys"]


def test_a_portal_signs_a_citizen_in_at_the_level_it_asks_for(
    platform: Platform,
    portal: Portal,
    browser: httpx.Client,
    face_of: FaceOf,
    closing: Callable[[OAuth2Client], OAuth2Client],
) -> None:
    gateway_url = platform.config.gateway_url
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)

    client = closing(portal.client(gateway_url))
    verifier = generate_token(64)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        portal.metadata["authorization_endpoint"],
        code_verifier=verifier,
        nonce=nonce,
        acr_values="urn:onevisit:loa:3",
        scope="openid profile id_number",
    )
    assert "code_challenge=" + create_s256_code_challenge(verifier) in url

    page = browse(browser, url)
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    page = post_form(browser, page, step="password", phone=citizen.phone, password=citizen.password)
    id_number, name = RESIDENT
    page = post_form(browser, page, step="real_name", name=name, id_number=id_number)
    challenge_id = page.text.split('name="challenge_id" value="', 1)[1].split('"', 1)[0]
    page = post_form(
        browser,
        page,
        step="face",
        challenge_id=challenge_id,
        template=str(face_of(id_number)),
    )
    back = post_form(browser, page, step="consent", decision="allow")
    params = sent_back(back)
    assert params["state"] == state
    assert params["iss"] == portal.metadata["issuer"]

    token = client.fetch_token(
        portal.metadata["token_endpoint"],
        authorization_response=back.headers["location"],
        code_verifier=verifier,
    )
    with platform.client() as gateway:
        claims = portal.id_token_claims(gateway, token, nonce)
        assert claims["acr"] == "urn:onevisit:loa:3"
        assert "face" in claims["amr"]

        info = client.get(portal.metadata["userinfo_endpoint"])
        assert info.status_code == 200, info.text
        assert info.json()["sub"] == claims["sub"]
        assert info.json()["name"] == name
        assert info.json()["id_number"] == id_number

        # The portal's token is hers for what she allowed it: her identity, not her account.
        cases = gateway.get("/cases/v1/cases", headers=bearer(token["access_token"]))
        assert cases.status_code == 403, cases.text
        assert cases.json()["code"] == "insufficient_scope"

    refreshed = client.refresh_token(
        portal.metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    assert refreshed["access_token"] != token["access_token"]

    # The same browser, another portal visit: signed in already, consent remembered.
    again_url, again_state = client.create_authorization_url(
        portal.metadata["authorization_endpoint"],
        code_verifier=generate_token(64),
        nonce=generate_token(20),
        scope="openid profile",
    )
    again = browse(browser, again_url)
    assert sent_back(again)["state"] == again_state

    logout = browse(
        browser,
        str(
            httpx.URL(
                portal.metadata["end_session_endpoint"],
                params={
                    "id_token_hint": token["id_token"],
                    "post_logout_redirect_uri": LOGGED_OUT,
                    "state": "bye",
                },
            )
        ),
    )
    assert logout.headers["location"] == LOGGED_OUT + "?state=bye"
    ended = httpx.post(
        portal.metadata["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed["refresh_token"],
            "client_id": portal.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _assertion(portal),
        },
    )
    assert ended.status_code == 400
    assert ended.json()["error"] == "invalid_grant"


def _assertion(portal: Portal) -> str:
    """A fresh ``private_key_jwt`` assertion, as Authlib signs them."""
    assertion = private_key_jwt_sign(
        ECKey.import_key(portal.private_key_pem),
        client_id=portal.client_id,
        token_endpoint=portal.metadata["token_endpoint"],
        alg="ES256",
        expires_in=60,
    )
    return assertion.decode() if isinstance(assertion, bytes) else str(assertion)


def test_each_refusal_a_portal_can_meet_is_a_standard_error(
    platform: Platform,
    portal: Portal,
    browser: httpx.Client,
    closing: Callable[[OAuth2Client], OAuth2Client],
) -> None:
    gateway_url = platform.config.gateway_url
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
    client = closing(portal.client(gateway_url))
    endpoint = portal.metadata["authorization_endpoint"]

    # A redirect URI not registered: told to the citizen, never sent anywhere.
    url, _state = client.create_authorization_url(
        endpoint, code_verifier=generate_token(64), nonce="n", redirect_uri=REDIRECT + "/x"
    )
    refused = browse(browser, url)
    assert refused.status_code == 400
    assert "location" not in refused.headers

    # No nonce: back to the portal as invalid_request.
    url, state = client.create_authorization_url(endpoint, code_verifier=generate_token(64))
    assert sent_back(browse(browser, url)) == {
        "error": "invalid_request",
        "error_description": "nonce is required (it binds the ID token to the sign-in)",
        "state": state,
        "iss": portal.metadata["issuer"],
    }

    verifier = generate_token(64)
    url, _state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce="n1")
    page = post_form(
        browser,
        browse(browser, url),
        step="password",
        phone=citizen.phone,
        password=citizen.password,
    )
    back = post_form(browser, page, step="consent", decision="allow")
    code = sent_back(back)["code"]

    def exchange(code_verifier: str) -> httpx.Response:
        return httpx.post(
            portal.metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": code_verifier,
                "client_id": portal.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": _assertion(portal),
            },
        )

    wrong = exchange(generate_token(64))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    first = exchange(verifier)
    assert first.status_code == 200, first.text
    reused = exchange(verifier)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    # The reuse revoked what the first exchange gave: the gateway refuses its access token.
    deadline = time.monotonic() + 30
    while True:
        with platform.client() as gateway:
            answer = gateway.get(
                portal.metadata["userinfo_endpoint"],
                headers=bearer(first.json()["access_token"]),
            )
        if answer.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer.status_code == 401, answer.text

    # Without the portal's own key, a citizen's token from her app is not a portal's.
    with platform.client() as gateway:
        own = citizen.sign_in(gateway)
        userinfo = gateway.get(portal.metadata["userinfo_endpoint"], headers=bearer(own))
    assert userinfo.status_code == 403
    assert userinfo.json()["error"] == "insufficient_scope"


def test_the_app_signs_in_without_the_password_grant(
    platform: Platform, browser: httpx.Client, closing: Callable[[OAuth2Client], OAuth2Client]
) -> None:
    """The platform's own app, a public client (RFC 8252): the code flow with PKCE and no
    secret, no consent page; its tokens are her own use of the platform."""
    gateway_url = platform.config.gateway_url
    with platform.client() as gateway:
        citizen = register_citizen(gateway, platform.config.var_dir)
        metadata = gateway.get("/identity/v1/.well-known/openid-configuration").json()
    app = closing(
        OAuth2Client(
            client_id="onevisit-app",
            token_endpoint_auth_method="none",
            redirect_uri="http://127.0.0.1/oauth2redirect",
            scope="openid",
            code_challenge_method="S256",
            base_url=gateway_url,
        )
    )
    verifier = generate_token(64)
    url, state = app.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(20)
    )
    page = browse(browser, url)
    back = post_form(browser, page, step="password", phone=citizen.phone, password=citizen.password)
    assert back.headers["location"].startswith("http://127.0.0.1/oauth2redirect?")
    assert parse_qs(urlsplit(back.headers["location"]).query)["state"] == [state]
    token = app.fetch_token(
        metadata["token_endpoint"],
        authorization_response=back.headers["location"],
        code_verifier=verifier,
    )
    with platform.client() as gateway:
        me = gateway.get("/identity/v1/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == citizen.account_id
