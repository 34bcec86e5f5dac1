"""What case-svc tells other services: each change's event written in its transaction to the
outbox, for the subscribers the settings name; ids and codes only, never personal data."""

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from case_svc.cases import handling
from case_svc.events import working_days_taken
from case_svc.models import Case, OutboxEvent
from servicekit.settings import ServiceSettings
from servicekit.testing import ServiceUnderTest, bearer

Submit = Callable[..., Awaitable[httpx.Response]]

RATINGS = "/ratings/v1/events"
SUPERVISION = "/supervision/v1/events"
FUND_CENTRE = "330300-housing_provident_fund"


@pytest.fixture
def settings(
    service_under_test: ServiceUnderTest, database_url: str, tmp_path: Path
) -> ServiceSettings:
    """Two subscribers, and no client secret: the relay does not run, the events wait."""
    base = service_under_test.settings_for(database_url, tmp_path)
    subscribers = {
        "case.submitted": [SUPERVISION],
        "case.status_changed": [SUPERVISION],
        "case.completed": [RATINGS, SUPERVISION],
        "case.overdue": [SUPERVISION],
    }
    return base.model_copy(update={"event_subscribers": subscribers})


async def outbox(app: Any) -> list[dict[str, Any]]:
    async with app.state.service.database.sessionmaker() as session:
        rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
        return [{"subscriber": row.subscriber, **json.loads(row.envelope)} for row in rows]


async def test_an_instant_item_is_reported_filed_and_completed(
    app: Any, submit: Submit, resident: str, catalog: Any
) -> None:
    filed = (await submit(resident, catalog.loss_report)).json()

    events = await outbox(app)

    assert [(event["type"], event["subscriber"]) for event in events] == [
        ("case.submitted", SUPERVISION),
        ("case.completed", RATINGS),
        ("case.completed", SUPERVISION),
    ]
    completed = events[1]
    assert completed["source"] == "/cases"
    assert completed["data"]["case_no"] == filed["case_no"]
    assert completed["data"]["applicant_id"] == "citizen-lin"
    assert completed["subject"] == completed["data"]["case_id"]
    assert completed["data"]["working_days_taken"] == 0  # completed on filing
    # The form held her name and ID number: no event does.
    text = json.dumps(events, ensure_ascii=False)
    assert filed["form"]["name"] not in text
    assert filed["form"]["id_number"] not in text


async def test_each_status_change_is_reported_and_a_claim_is_not(
    app: Any,
    client: httpx.AsyncClient,
    submit: Submit,
    resident: str,
    catalog: Any,
    token_minter: Any,
) -> None:
    number = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    handler = bearer(
        token_minter.mint("handler-1", typ="staff", loa=2, dept=FUND_CENTRE, roles=("handler",))
    )
    claimed = await client.post(
        f"/cases/v1/cases/{number}/claim", headers={**handler, "If-Match": '"1"'}
    )
    accepted = await client.post(
        f"/cases/v1/cases/{number}/transitions",
        json={"action": "accept"},
        headers={**handler, "If-Match": claimed.headers["etag"]},
    )
    assert accepted.status_code == 200

    events = await outbox(app)

    assert [event["type"] for event in events] == ["case.submitted", "case.status_changed"]
    assert {key: events[1]["data"][key] for key in ("action", "from_status", "status")} == {
        "action": "accept",
        "from_status": "submitted",
        "status": "accepted",
    }


async def test_a_case_past_its_promised_time_is_reported_overdue_once(
    app: Any, submit: Submit, resident: str, catalog: Any, clock: Any
) -> None:
    await submit(resident, catalog.fund_withdrawal)  # promised in 3 working days
    sessionmaker, events = app.state.service.database.sessionmaker, app.state.service.outbox
    in_time = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # Tuesday 23:00 in Wenzhou
    assert await handling.report_overdue_cases(sessionmaker, events, now=in_time) == 0

    late = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
    reported = await asyncio.gather(
        *(handling.report_overdue_cases(sessionmaker, events, now=late) for _ in range(3))
    )
    again = await handling.report_overdue_cases(sessionmaker, events, now=late)

    assert (sum(reported), again) == (1, 0)
    [overdue] = [event for event in await outbox(app) if event["type"] == "case.overdue"]
    assert overdue["data"]["due_at"] == "2026-12-01T15:59:59+00:00"


async def test_a_case_waiting_on_its_applicant_is_not_reported_overdue(
    app: Any,
    client: httpx.AsyncClient,
    submit: Submit,
    resident: str,
    catalog: Any,
    token_minter: Any,
) -> None:
    number = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    handler = bearer(
        token_minter.mint("handler-1", typ="staff", loa=2, dept=FUND_CENTRE, roles=("handler",))
    )
    claimed = await client.post(
        f"/cases/v1/cases/{number}/claim", headers={**handler, "If-Match": '"1"'}
    )
    await client.post(
        f"/cases/v1/cases/{number}/transitions",
        json={"action": "request_supplement", "notice": {"fields": ["amount"]}},
        headers={**handler, "If-Match": claimed.headers["etag"]},
    )
    late = dt.datetime(2026, 12, 9, 2, 0, tzinfo=dt.UTC)

    reported = await handling.report_overdue_cases(
        app.state.service.database.sessionmaker, app.state.service.outbox, now=late
    )

    assert reported == 0


def test_an_event_type_case_svc_does_not_emit_is_refused_in_its_settings(
    service_under_test: ServiceUnderTest, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"case-svc emits no case\.rated"):
        service_under_test.settings_class(
            var_dir=tmp_path, event_subscribers={"case.rated": ["/ratings/v1/events"]}
        )


MONDAY_MORNING = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Wenzhou


@pytest.mark.parametrize(
    ("paused_working_days", "paused_since", "completed_on_day", "taken"),
    [
        (0, None, 0, 0),  # the day it was filed
        (0, None, 4, 4),  # Monday to Friday
        (2, None, 4, 2),  # two of those days waiting on her supplement
        (0, 2, 4, 2),  # completed straight from a pause begun on Wednesday
        (0, None, 7, 5),  # to the next Monday: the weekend does not count
        (9, None, 4, 0),  # never below nothing
    ],
)
def test_the_working_days_a_case_took_leave_its_pauses_out(
    paused_working_days: int, paused_since: int | None, completed_on_day: int, taken: int
) -> None:
    case = Case(
        submitted_at=MONDAY_MORNING,
        paused_working_days=paused_working_days,
        clock_paused_at=(
            MONDAY_MORNING + dt.timedelta(days=paused_since) if paused_since is not None else None
        ),
    )
    completed_at = MONDAY_MORNING + dt.timedelta(days=completed_on_day, hours=5)
    assert working_days_taken(case, completed_at) == taken
