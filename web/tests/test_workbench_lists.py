"""The workbench's lists as the API is asked for them: the queue's filters (only what the API
knows, so that an altered link lists what it can), the supervision period, and where each
supervision row's published figures are."""

import datetime as dt

from starlette.requests import Request

from onevisit_web.workbench.queue import queue_filters
from onevisit_web.workbench.staff import StaffMember, regional
from onevisit_web.workbench.supervision import period_of, published_figures_of


def _request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


def test_the_queue_passes_on_the_filters_the_api_knows() -> None:
    asked = _request(
        "status=submitted&status=completed&status=bogus&assignee=me&deadline_colour=red"
        "&item_code=housing_provident_fund.withdrawal"
    )

    assert queue_filters(asked) == [
        ("status", "submitted"),
        ("item_code", "housing_provident_fund.withdrawal"),
        ("assignee", "me"),
        ("deadline_colour", "red"),
    ]
    assert queue_filters(_request("assignee=everyone&deadline_colour=blue")) == []


def test_a_departments_lists_go_to_its_regions_instance() -> None:
    member = StaffMember("s", "330300-housing_provident_fund", frozenset({"handler"}))
    assert regional(member) == {"X-Region-Code": "330300"}
    assert regional(StaffMember("a", None, frozenset({"platform_admin"}))) == {}


def test_the_period_is_this_month_so_far_unless_asked() -> None:
    today = dt.date(2026, 12, 8)
    assert period_of(_request(""), today) == (dt.date(2026, 12, 1), today)
    asked = _request("period_start=2026-11-01&period_end=not-a-date")
    assert period_of(asked, today) == (dt.date(2026, 11, 1), today)


def test_rows_of_departments_and_regions_have_published_figures_items_not() -> None:
    row = {"department_id": "330300-housing_provident_fund", "region_code": "330300"}
    assert published_figures_of(row, "department") == (
        "/ratings/v1/statistics/departments/330300-housing_provident_fund"
    )
    assert published_figures_of(row, "region") == "/ratings/v1/statistics/regions/330300"
    assert published_figures_of(row, "item") is None
