"""The OpenID Connect provider in process: the authorization code flow through identity-svc's
own pages as a browser drives them (forms posted, cookies kept), the code's exchange with PKCE,
the ID token, userinfo, refresh, consent remembered and withdrawn, RP-initiated logout, and each
refusal as a standard error. The end-to-end suite drives the same flow with a real OIDC client
library through the gateway (tests/test_oidc_sign_in.py)."""

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI

from identity_svc.models import OAuthClient
from identity_svc.tokens.service import register_client
from servicekit.testing import bearer

from .conftest import PASSWORD, Journey, People

REDIRECT = "https://portal.example.gov.cn/callback"
LOGGED_OUT = "https://portal.example.gov.cn/"
ISSUER = "http://127.0.0.1:8000/identity/v1"
SECRET = "portal-secret-" + "x" * 30


@dataclass
class Portal:
    client_id: str
    first_party: bool = False

    def basic(self) -> dict[str, str]:
        encoded = base64.b64encode(f"{self.client_id}:{SECRET}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}


async def _register(app: FastAPI, client_id: str, *, first_party: bool = False) -> Portal:
    runtime = app.state.service.runtime
    async with app.state.service.database.sessionmaker.begin() as session:
        oauth_client: OAuthClient = await register_client(
            session=session,
            passwords=runtime.passwords,
            client_id=client_id,
            client_secret=SECRET,
            name="鹿城区公安分局网上办事大厅（合成数据）",
            typ="department_system",
            dept="330302-public_security",
            scopes="",
            now=runtime.now(),
        )
        oauth_client.redirect_uris = [REDIRECT]
        oauth_client.post_logout_redirect_uris = [LOGGED_OUT]
        oauth_client.first_party = first_party
    return Portal(client_id=client_id, first_party=first_party)


@pytest.fixture
async def portal(app: FastAPI) -> Portal:
    return await _register(app, f"ds-330302-public-security-{secrets.token_hex(3)}")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_query(portal: Portal, challenge: str, **extra: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile phone",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(extra)
    return query


_FORM = re.compile(r'<form method="post" action="([^"]+)"')


def form_action(html: str) -> str:
    match = _FORM.search(html)
    assert match is not None, html
    return unescape(match.group(1))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, html
    return unescape(match.group(1))


class Browser:
    """A browser: follows redirects within identity-svc, keeps its cookies, posts forms."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def go(self, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(url, **kwargs)
        return await self._follow(response)

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return await self._follow(await self.client.post(url, data=data))

    async def _follow(self, response: httpx.Response) -> httpx.Response:
        while response.status_code == 303 and response.headers["location"].startswith("/"):
            response = await self.client.get(response.headers["location"])
        return response


def code_of(response: httpx.Response, state: str) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?"), location
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    assert query["iss"] == [ISSUER]
    return query["code"][0]


async def sign_in_with_password(
    browser: Browser, page: httpx.Response, phone: str
) -> httpx.Response:
    assert page.status_code == 200, page.text
    assert "密码登录" in page.text
    actions = _FORM.findall(page.text)
    return await browser.post(
        unescape(actions[-1]), {"step": "password", "phone": phone, "password": PASSWORD}
    )


async def consent(browser: Browser, page: httpx.Response) -> httpx.Response:
    assert page.status_code == 200, page.text
    assert "请求获取您的以下信息" in page.text
    return await browser.post(form_action(page.text), {"step": "consent", "decision": "allow"})


async def exchange(
    client: httpx.AsyncClient, portal: Portal, code: str, verifier: str, **extra: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return await client.post("/identity/v1/token", data=form, headers=portal.basic())


async def id_token_claims(journey: Journey, token: str, audience: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = {key["kid"]: key for key in (await journey.jwks())["keys"]}
    key = jwt.PyJWK(keys[kid])
    claims: dict[str, Any] = jwt.decode(
        token, key=key.key, algorithms=[key.algorithm_name], audience=audience, issuer=ISSUER
    )
    return claims


async def test_discovery_names_every_endpoint_under_the_issuer(client: httpx.AsyncClient) -> None:
    response = await client.get("/identity/v1/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == ISSUER
    for endpoint in ("authorization", "token", "userinfo", "end_session"):
        assert document[f"{endpoint}_endpoint"].startswith(ISSUER + "/")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert "urn:onevisit:loa:3" in document["acr_values_supported"]
    again = await client.get("/identity/v1/.well-known/oauth-authorization-server")
    assert again.json() == document


async def test_a_portal_signs_a_citizen_in_and_asks_consent_once(
    client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    consent_page = await sign_in_with_password(browser, page, phone)
    code = code_of(await consent(browser, consent_page), query["state"])

    response = await exchange(client, portal, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["scope"] == "openid profile phone"
    claims = await id_token_claims(journey, tokens["id_token"], portal.client_id)
    assert claims["nonce"] == query["nonce"]
    assert claims["acr"] == "urn:onevisit:loa:1"
    assert claims["amr"] == ["pwd"]
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    access = await journey.claims(tokens["access_token"])
    assert access["client_id"] == portal.client_id
    assert access["scope"] == "openid profile phone"
    assert access["sub"] == claims["sub"]

    info = await client.get("/identity/v1/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200, info.text
    assert info.json() == {
        "sub": claims["sub"],
        "real_name_verified": False,
        "loa": 1,
        "phone_number_masked": f"{phone[:3]}****{phone[-4:]}",
        "phone_number_verified": True,
    }

    # The same browser, another visit: signed in already, consent remembered — straight back.
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    again = await browser.go("/identity/v1/authorize", params=query)
    assert (await exchange(client, portal, code_of(again, query["state"]), verifier)).is_success

    # Refresh: the portal's, authenticated; refused without its credentials.
    refreshed = await client.post(
        "/identity/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=portal.basic(),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (await journey.claims(refreshed.json()["access_token"]))["scope"] == tokens["scope"]
    stolen = await journey.refresh(refreshed.json()["refresh_token"])
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"


async def test_each_refusal_of_the_code_exchange_is_a_standard_error(
    client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    code = code_of(
        await consent(browser, await sign_in_with_password(browser, page, phone)), query["state"]
    )

    wrong = await exchange(client, portal, code, pkce()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # The refusal rolled back: the code is still unspent, and redirect_uri must match too.
    other = await exchange(client, portal, code, verifier, redirect_uri=REDIRECT + "/other")
    assert other.json()["error"] == "invalid_grant"
    no_verifier = await client.post(
        "/identity/v1/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=portal.basic(),
    )
    assert no_verifier.json()["error"] == "invalid_request"

    first = await exchange(client, portal, code, verifier)
    assert first.status_code == 200, first.text
    replayed = await exchange(client, portal, code, verifier)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    # The replay ended the session the first exchange started.
    refresh = await client.post(
        "/identity/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        headers=portal.basic(),
    )
    assert refresh.json()["error"] == "invalid_grant"

    # Another client cannot spend a code, nor a client that does not authenticate.
    bare = await client.post(
        "/identity/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": portal.client_id,
        },
    )
    assert bare.status_code == 401
    assert bare.json()["error"] == "invalid_client"


async def test_requests_refused_to_the_citizen_or_back_to_the_client(
    client: httpx.AsyncClient, portal: Portal
) -> None:
    _verifier, challenge = pkce()
    # Until the client and its redirect URI are known good, nothing is sent anywhere.
    for change in (
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT + "/"},
        {"client_id": "no-such-client"},
    ):
        response = await client.get(
            "/identity/v1/authorize", params=authorize_query(portal, challenge, **change)
        )
        assert response.status_code == 400
        assert "location" not in response.headers
    twice = await client.get(
        "/identity/v1/authorize?" + urlencode(authorize_query(portal, challenge)) + "&state=again"
    )
    assert twice.status_code == 400

    # After, back to the client with the error, the state and the issuer.
    for change, error in (
        ({"nonce": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid everything"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"request": "eyJ.x.y"}, "request_not_supported"),
        ({"prompt": "none"}, "login_required"),
    ):
        query = authorize_query(portal, challenge, **change)
        response = await client.get("/identity/v1/authorize", params=query)
        assert response.status_code == 303, (change, response.text)
        location = parse_qs(urlsplit(response.headers["location"]).query)
        assert location["error"] == [error], change
        assert location["state"] == [query["state"]]
        assert location["iss"] == [ISSUER]


async def test_a_higher_level_takes_the_real_name_and_the_face_in_the_pages(
    client: httpx.AsyncClient, journey: Journey, portal: Portal, people: People
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge, scope="openid profile id_number")
    page = await browser.go("/identity/v1/authorize", params=query)
    real_name = await sign_in_with_password(browser, page, phone)
    assert "身份证号码" in real_name.text
    face = await browser.post(
        form_action(real_name.text),
        {"step": "real_name", "name": people.chen.name, "id_number": people.chen.id_number},
    )
    assert "刷脸" in face.text, face.text
    refused = await browser.post(
        form_action(face.text),
        {
            "step": "face",
            "challenge_id": hidden(face.text, "challenge_id"),
            "template": "[0.5, 0.5]",
        },
    )
    assert 'role="alert"' in refused.text
    consent_page = await browser.post(
        form_action(refused.text),
        {
            "step": "face",
            "challenge_id": hidden(refused.text, "challenge_id"),
            "template": str(people.chen.phone_capture()),
        },
    )
    assert "完整姓名和身份证号码" in consent_page.text
    code = code_of(await consent(browser, consent_page), query["state"])
    tokens = (await exchange(client, portal, code, verifier)).json()
    claims = await id_token_claims(journey, tokens["id_token"], portal.client_id)
    assert claims["acr"] == "urn:onevisit:loa:3"
    assert claims["amr"] == ["pwd", "face"]
    info = (
        await client.get("/identity/v1/userinfo", headers=bearer(tokens["access_token"]))
    ).json()
    assert info["name"] == people.chen.name
    assert info["id_number"] == people.chen.id_number
    assert info["real_name_verified"] is True


async def test_userinfo_answers_only_tokens_a_client_obtained(
    client: httpx.AsyncClient, journey: Journey
) -> None:
    tokens = await journey.signed_in()
    response = await client.get("/identity/v1/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_withdrawn_consent_is_asked_again_and_ends_the_portals_sessions(
    client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    code = code_of(
        await consent(browser, await sign_in_with_password(browser, page, phone)), query["state"]
    )
    portal_tokens = (await exchange(client, portal, code, verifier)).json()

    own = (await journey.login(phone)).json()["access_token"]
    listed = await client.get("/identity/v1/me/consents", headers=bearer(own))
    assert [item["client_id"] for item in listed.json()["items"]] == [portal.client_id]
    withdrawn = await client.delete(
        f"/identity/v1/me/consents/{portal.client_id}", headers=bearer(own)
    )
    assert withdrawn.status_code == 204
    refresh = await client.post(
        "/identity/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": portal_tokens["refresh_token"]},
        headers=portal.basic(),
    )
    assert refresh.json()["error"] == "invalid_grant"
    _verifier, challenge = pkce()
    asked = await browser.go("/identity/v1/authorize", params=authorize_query(portal, challenge))
    assert "请求获取您的以下信息" in asked.text
    gone = await client.delete(f"/identity/v1/me/consents/{portal.client_id}", headers=bearer(own))
    assert gone.status_code == 404


async def test_logout_ends_the_browsers_sign_in_and_the_sessions_it_gave(
    client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    code = code_of(
        await consent(browser, await sign_in_with_password(browser, page, phone)), query["state"]
    )
    tokens = (await exchange(client, portal, code, verifier)).json()

    response = await client.get(
        "/identity/v1/end-session",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "bye",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == LOGGED_OUT + "?state=bye"
    refresh = await client.post(
        "/identity/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=portal.basic(),
    )
    assert refresh.json()["error"] == "invalid_grant"
    _verifier, challenge = pkce()
    again = await browser.go("/identity/v1/authorize", params=authorize_query(portal, challenge))
    assert "密码登录" in again.text
    unregistered = await client.get(
        "/identity/v1/end-session",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT},
    )
    assert unregistered.status_code == 200
    assert "已退出登录" in unregistered.text


async def test_a_request_belongs_to_the_browser_that_made_it(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    phone = await journey.register()
    _verifier, challenge = pkce()
    first = await client.get("/identity/v1/authorize", params=authorize_query(portal, challenge))
    page_url = first.headers["location"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        stolen = await other.post(
            page_url, data={"step": "password", "phone": phone, "password": PASSWORD}
        )
        assert stolen.status_code == 400
        assert "失效" in stolen.text


async def test_the_platforms_own_app_asks_no_consent_and_its_tokens_are_hers(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey
) -> None:
    own_app = await _register(app, "onevisit-app-test", first_party=True)
    phone = await journey.register()
    browser = Browser(client)
    verifier, challenge = pkce()
    query = authorize_query(own_app, challenge, scope="openid")
    page = await browser.go("/identity/v1/authorize", params=query)
    code = code_of(await sign_in_with_password(browser, page, phone), query["state"])
    tokens = (await exchange(client, own_app, code, verifier)).json()
    access = await journey.claims(tokens["access_token"])
    assert access["client_id"] == own_app.client_id
    assert "scope" not in access
    me = await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200


async def test_prompt_login_and_max_age_ask_for_a_new_sign_in(
    client: httpx.AsyncClient, journey: Journey, portal: Portal, clock: Any
) -> None:
    phone = await journey.register()
    browser = Browser(client)
    _verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    code_of(
        await consent(browser, await sign_in_with_password(browser, page, phone)), query["state"]
    )
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        clock.advance(5)
        _verifier, challenge = pkce()
        again = await browser.go(
            "/identity/v1/authorize", params=authorize_query(portal, challenge, **extra)
        )
        assert again.status_code == 200, extra
        assert "密码登录" in again.text, extra
    clock.advance(5)
    _verifier, challenge = pkce()
    query = authorize_query(portal, challenge, prompt="consent")
    asked = await browser.go("/identity/v1/authorize", params=query)
    assert "请求获取您的以下信息" in asked.text


async def test_bad_forms_and_unknown_requests_get_a_page_never_an_error(
    client: httpx.AsyncClient, journey: Journey, portal: Portal
) -> None:
    _verifier, challenge = pkce()
    browser = Browser(client)
    page = await browser.go("/identity/v1/authorize", params=authorize_query(portal, challenge))
    action = _FORM.findall(page.text)[-1]
    for body, content_type in (
        (b"step=password&step=sms", "application/x-www-form-urlencoded"),
        (b"step=" + b"x" * 30_000, "application/x-www-form-urlencoded"),
        (b"{not a form", "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"step=nothing", "application/x-www-form-urlencoded"),
        (b"step=face&template=[1,2]&challenge_id=nope", "application/x-www-form-urlencoded"),
        (b"step=sms_send&phone=12", "application/x-www-form-urlencoded"),
    ):
        response = await client.post(
            unescape(action), content=body, headers={"content-type": content_type}
        )
        assert response.status_code < 500, (body[:40], response.text[:300])
    for path in ("/identity/v1/authorize/" + "x" * 300, "/identity/v1/authorize/unknown"):
        response = await client.get(path)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
    huge = await client.get("/identity/v1/authorize", params={"client_id": "x" * 5000})
    assert huge.status_code == 400
    wrong_password = await browser.post(
        unescape(action), {"step": "password", "phone": "13900000000", "password": "nope"}
    )
    assert wrong_password.status_code == 400
    assert "手机号、密码或验证码不正确" in wrong_password.text
    assert 'value="nope"' not in wrong_password.text


async def test_what_expired_is_forgotten_at_the_next_sign_in(
    app: FastAPI, client: httpx.AsyncClient, journey: Journey, portal: Portal, clock: Any
) -> None:
    from sqlalchemy import func, select

    from identity_svc.models import AuthorizationCode, AuthorizationRequest, BrowserSession

    async def count(model: Any) -> int:
        async with app.state.service.database.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    phone = await journey.register()
    browser = Browser(client)
    _verifier, challenge = pkce()
    query = authorize_query(portal, challenge)
    page = await browser.go("/identity/v1/authorize", params=query)
    code_of(
        await consent(browser, await sign_in_with_password(browser, page, phone)), query["state"]
    )
    await browser.go("/identity/v1/authorize", params=authorize_query(portal, pkce()[1]))
    assert await count(AuthorizationCode) >= 2
    clock.advance(app.state.service.runtime.settings.browser_session_ttl_seconds + 60)
    fresh = Browser(client)
    client.cookies.clear()
    page = await fresh.go("/identity/v1/authorize", params=authorize_query(portal, pkce()[1]))
    # Her consent is remembered: the sign-in ends with a code, the only one left.
    await sign_in_with_password(fresh, page, phone)
    assert await count(AuthorizationCode) == 1
    assert await count(BrowserSession) == 1
    assert await count(AuthorizationRequest) == 1
