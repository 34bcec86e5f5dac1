"""An upstream's answer, as the caller hears it: its problems about the request passed on as
they are (with the members they declare), anything else the upstream's failure."""

from typing import Any

import httpx
import pytest

from servicekit.auth import InsufficientAssurance
from servicekit.http import raise_for_problem
from servicekit.problems import DomainError, NotFound, UpstreamUnavailable


class ThingNotFound(NotFound):
    code = "thing_not_found"
    title = "No such thing"


PASSED_ON = (ThingNotFound, InsufficientAssurance)


def problem(status: int, code: str, **members: Any) -> httpx.Response:
    body = {"type": f"/problems/{code}", "title": code, "status": status, "code": code, **members}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_a_success_is_no_problem() -> None:
    raise_for_problem(httpx.Response(201, json={}), upstream="thing-svc", passed_on=PASSED_ON)


def test_a_problem_about_the_request_is_passed_on_with_its_detail_and_declared_members() -> None:
    answer = problem(
        403,
        "insufficient_assurance",
        detail="this needs a verified real name",
        required_loa=2,
        current_loa=1,
        step="real_name",
        surplus="not declared: left behind",
    )

    with pytest.raises(InsufficientAssurance) as raised:
        raise_for_problem(answer, upstream="thing-svc", passed_on=PASSED_ON)

    assert raised.value.detail == "this needs a verified real name"
    assert raised.value.extensions == {"required_loa": 2, "current_loa": 1, "step": "real_name"}


@pytest.mark.parametrize(
    ("answer", "upstream_code"),
    [
        (problem(404, "account_not_found"), "account_not_found"),  # not one passed on
        (problem(403, "thing_not_found"), "thing_not_found"),  # its code, another status
        (problem(503, "database_unavailable"), "database_unavailable"),
        (httpx.Response(502, text="Bad Gateway"), None),
        (httpx.Response(500, json=["not", "a", "problem"]), None),
    ],
)
def test_anything_else_is_the_upstreams_failure_naming_its_status_and_code(
    answer: httpx.Response, upstream_code: str | None
) -> None:
    with pytest.raises(UpstreamUnavailable) as raised:
        raise_for_problem(answer, upstream="thing-svc", passed_on=PASSED_ON)

    error: DomainError = raised.value
    assert error.detail == f"thing-svc answered {answer.status_code}"
    assert error.extensions.get("upstream_status") == answer.status_code
    assert error.extensions.get("upstream_code") == upstream_code
