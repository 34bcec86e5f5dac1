"""The citizen's pages against a stand-in gateway (``httpx.MockTransport``): the face step
without a demo capture offers nothing, with one it says so and keeps the fresh token in her
sign-in, and a page refused for want of assurance sends her to the step it names and back."""

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from onevisit_web.main import create_app
from onevisit_web.session import WebSession, cookie_name, open_session, seal
from onevisit_web.settings import WebSettings
from onevisit_web.state import WebState

Gateway = Callable[[httpx.Request], httpx.Response]
LOSS_REPORT = "public_security.id_card_loss_report"


class Pages:
    """The page server signed in as a citizen, its gateway a function; the calls it made."""

    def __init__(self, settings: WebSettings, gateway: Gateway) -> None:
        self.settings = settings
        self.calls: list[httpx.Request] = []
        self.session = WebSession(
            part="app",
            access_token="header.e30.signature",
            refresh_token="refresh",
            access_expires_at=int(time.time()) + 600,
            ends_at=int(time.time()) + 3600,
            form_token="form-token",
        )

        def recorded(request: httpx.Request) -> httpx.Response:
            self.calls.append(request)
            return gateway(request)

        self.gateway = httpx.AsyncClient(
            transport=httpx.MockTransport(recorded), base_url="http://gateway"
        )

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        # What the lifespan would hold, with the stand-in gateway as its client.
        app = create_app(self.settings)
        app.state.web = WebState(settings=self.settings, http=self.gateway)
        cookie = seal(self.session, self.settings.sealing_keyring())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            cookies={cookie_name("app"): cookie},
        ) as client:
            yield client


def _pages(gateway: Gateway, capture: Path | None = None) -> Pages:
    return Pages(WebSettings(environment="development", demo_face_capture=capture), gateway)


def _refusing(step: str) -> Gateway:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"code": "insufficient_assurance", "required_loa": 3, "step": step}
        return httpx.Response(403, json=body)

    return answer


async def test_without_a_demo_capture_the_face_step_needs_the_apps_camera_and_offers_nothing() -> (
    None
):
    pages = _pages(_refusing("face"))
    async with pages.client() as client:
        page = await client.get("/app/verify/face", params={"next": "/app/"})
        assert page.status_code == 200
        assert "需要使用手机应用的摄像头" in page.text
        assert 'id="start-face"' not in page.text
        assert "演示" not in page.text
        form = {"form_token": "form-token", "next": "/app/"}
        posted = await client.post("/app/verify/face", data=form)
        assert posted.status_code == 409
        assert pages.calls == []


async def test_the_demo_capture_is_said_and_the_fresh_token_kept_in_her_sign_in(
    tmp_path: Path,
) -> None:
    capture = tmp_path / "capture.json"
    capture.write_text(json.dumps({"template": [0.1] * 128}), encoding="utf-8")

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/challenges"):
            return httpx.Response(201, json={"challenge_id": "challenge-1"})
        sent = json.loads(request.content)
        assert sent == {"challenge_id": "challenge-1", "template": [0.1] * 128}
        return httpx.Response(200, json={"access_token": "level.three.token", "expires_in": 600})

    pages = _pages(gateway, capture)
    async with pages.client() as client:
        page = await client.get("/app/verify/face", params={"next": "/app/cases"})
        assert "演示：以合成人物的演示采集代替摄像头" in page.text
        posted = await client.post(
            "/app/verify/face",
            data={"form_token": "form-token", "next": "/app/cases"},
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == "/app/cases"
        kept = open_session(
            posted.cookies.get(cookie_name("app")), "app", pages.settings.sealing_keyring()
        )
        assert kept is not None
        assert kept.access_token == "level.three.token"
        assert kept.refresh_token == "refresh"


@pytest.mark.parametrize(
    ("step", "page"),
    [("real_name", "/app/verify/real-name"), ("face", "/app/verify/face")],
)
async def test_a_page_refused_for_want_of_assurance_sends_her_to_the_step_and_back(
    step: str, page: str
) -> None:
    async with _pages(_refusing(step)).client() as client:
        answer = await client.get(f"/app/apply/{LOSS_REPORT}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{page}?next=/app/apply/{LOSS_REPORT}"


async def test_a_form_without_her_form_token_is_refused_before_any_call() -> None:
    pages = _pages(_refusing("face"))
    async with pages.client() as client:
        answer = await client.post("/app/verify/real-name", data={"name": "某人", "id_number": "1"})
        assert answer.status_code == 403
        assert pages.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "/app/cases/%2E%2E",
        "/app/cases/330302-20261208-00001x",
        "/app/drafts/330302-20261208-000001",
        "/app/items/%2E%2E",
        "/app/apply/no-dot",
    ],
)
async def test_a_number_or_code_of_another_shape_never_reaches_the_platform(path: str) -> None:
    pages = _pages(_refusing("face"))
    async with pages.client() as client:
        answer = await client.get(path)
        assert answer.status_code in (400, 404)
        assert pages.calls == []
