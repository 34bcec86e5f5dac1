"""The sign-in a page server keeps in the browser: sealed, bound to its part, ended on time;
forms refused without its form token; no redirect leaves the platform's pages."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from onevisit_web.main import create_app
from onevisit_web.pages import safe_next
from onevisit_web.session import WebSession, cookie_name, open_session, seal
from onevisit_web.settings import WebSettings

SETTINGS = WebSettings(gateway_url="http://127.0.0.1:9")  # nothing listens: no call may be made
KEYRING = SETTINGS.sealing_keyring()
TOKENS = {"access_token": "a.eyJ0eXAiOiJjaXRpemVuIn0.s", "refresh_token": "r-1", "expires_in": 600}


def test_a_sealed_sign_in_opens_for_its_own_part_only() -> None:
    session = WebSession.begin("app", TOKENS, max_seconds=3600)
    sealed = seal(session, KEYRING)
    assert "r-1" not in sealed
    assert "eyJ0eXAi" not in sealed
    assert open_session(sealed, "app", KEYRING) == session
    assert open_session(sealed, "workbench", KEYRING) is None


@pytest.mark.parametrize("value", ["", "ov1.dev.x.y", "not sealed at all", "ov1..."])
def test_a_cookie_that_is_not_a_sealed_sign_in_is_nobody(value: str) -> None:
    assert open_session(value, "app", KEYRING) is None


def test_a_tampered_cookie_is_nobody() -> None:
    sealed = seal(WebSession.begin("app", TOKENS, max_seconds=3600), KEYRING)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert open_session(flipped, "app", KEYRING) is None


def test_a_sign_in_ends_at_its_end_whatever_its_tokens_allow() -> None:
    ended = WebSession.begin("app", TOKENS, max_seconds=300, now=time.time() - 301)
    assert open_session(seal(ended, KEYRING), "app", KEYRING) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "/app/"),
        ("/app/cases/330302-20261207-000001", "/app/cases/330302-20261207-000001"),
        ("/app/items?q=%E8%BA%AB", "/app/items?q=%E8%BA%AB"),
        ("https://evil.example/app/", "/app/"),
        ("//evil.example/app/", "/app/"),
        ("/\\evil.example", "/app/"),
        ("/workbench/", "/app/"),
        ("/identity/v1/me", "/app/"),
    ],
)
def test_after_sign_in_she_goes_back_to_a_page_of_the_app_and_nowhere_else(
    target: str | None, expected: str
) -> None:
    assert safe_next(target, "app") == expected


@pytest.fixture
async def pages() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://pages.test"
        ) as client,
    ):
        yield client


async def test_a_form_posted_without_the_sign_ins_form_token_is_refused(
    pages: httpx.AsyncClient,
) -> None:
    session = WebSession.begin("app", TOKENS, max_seconds=3600)
    pages.cookies.set(cookie_name("app"), seal(session, KEYRING), domain="pages.test", path="/app")
    refused = await pages.post("/app/sign-out", data={"form_token": "from-another-site"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "页面已过期" in refused.text


async def test_a_page_without_a_sign_in_sends_her_to_sign_in_and_back(
    pages: httpx.AsyncClient,
) -> None:
    answer = await pages.get("/app/?from=sms")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/sign-in?next=/app/%3Ffrom%3Dsms"


async def test_every_page_forbids_inline_scripts_framing_and_caching(
    pages: httpx.AsyncClient,
) -> None:
    page = await pages.get("/app/sign-in")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"


async def test_a_body_past_the_limit_is_refused_unread(pages: httpx.AsyncClient) -> None:
    huge = {"phone": "1" * (SETTINGS.max_body_bytes + 1), "method": "password"}
    refused = await pages.post("/app/sign-in", data=huge)
    assert refused.status_code == 413
