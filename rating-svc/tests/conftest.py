import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rating_svc.deps import RatingState
from rating_svc.main import create_app
from rating_svc.models import Base
from rating_svc.settings import RatingSettings
from servicekit.state import app_state
from servicekit.testing import ServiceUnderTest

#: 10:00 in Wenzhou on Monday 7 December 2026, a working day.
A_WORKING_MORNING = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
LOSS_REPORT = "public_security.id_card_loss_report"
BUREAU = "330302-public_security"


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="rating",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=RatingSettings,
        create_app=create_app,
    )


class Clock:
    """The app's clock, held still and moved by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    held = Clock(A_WORKING_MORNING)
    app_state(app, RatingState).clock = held
    return held


def _a_case(case_no: str, applicant_id: str, **fields: Any) -> dict[str, Any]:
    """A case as case-svc shows it to its applicant: completed an hour before the clock."""
    return {
        "case_no": case_no,
        "status": "completed",
        "item_code": LOSS_REPORT,
        "applicant_id": applicant_id,
        "applicant_type": "citizen",
        "department_id": BUREAU,
        "region_code": "330302",
        "completed_at": (A_WORKING_MORNING - dt.timedelta(hours=1)).isoformat(),
        **fields,
    }


@pytest.fixture
def a_case() -> Callable[..., dict[str, Any]]:
    """``a_case(case_no, applicant_id, **fields)``: a case as case-svc shows it to its
    applicant, completed an hour before the clock's morning."""
    return _a_case


@pytest.fixture
def case_svc(app: FastAPI) -> Callable[..., None]:
    """case-svc as the gateway relays it: each case to whoever may read it (its applicant, or a
    delegate of its item), 404 to anyone else, as case-svc decides."""

    def serve(*cases: dict[str, Any]) -> None:
        by_number = {case["case_no"]: case for case in cases}

        def answer(request: httpx.Request) -> httpx.Response:
            case = by_number.get(request.url.path.rsplit("/", 1)[-1])
            claims = claims_of(request.headers["authorization"].removeprefix("Bearer "))
            if case is None or not may_read(claims, case):
                return httpx.Response(404, json={"code": "case_not_found"})
            return httpx.Response(200, json=case)

        app_state(app, RatingState).http = httpx.AsyncClient(
            transport=httpx.MockTransport(answer), base_url="http://gateway"
        )

    return serve


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified: the app verified it already."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def may_read(claims: dict[str, Any], case: dict[str, Any]) -> bool:
    """Its applicant reads it, and her delegate when the delegation covers its item."""
    if claims["sub"] != case["applicant_id"]:
        return False
    scope = claims.get("scope", "").split()
    return "act" not in claims or not scope or case["item_code"] in scope
