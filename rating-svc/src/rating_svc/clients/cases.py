"""case-svc, as rating-svc needs it: one case, read with the citizen's own authority.

Forwarding the citizen's token means case-svc itself decides whether the case is theirs: a case
of someone else's answers 404 here exactly as a case that does not exist.
"""

import datetime as dt

import httpx
from pydantic import BaseModel, ValidationError

from servicekit.problems import NotFound, UpstreamUnavailable


class CaseNotFound(NotFound):
    code = "case_not_found"
    title = "No such case of yours"


class CaseView(BaseModel):
    case_no: str
    status: str
    item_code: str
    applicant_id: str
    applicant_type: str
    department_id: str
    region_code: str
    completed_at: dt.datetime | None = None


async def fetch_case(http: httpx.AsyncClient, case_no: str, *, token: str) -> CaseView:
    try:
        response = await http.get(
            f"/cases/v1/cases/{case_no}", headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("case-svc could not be reached") from exc
    if response.status_code == 404:
        raise CaseNotFound(f"case {case_no} is not one of yours")
    if response.status_code != 200:
        raise UpstreamUnavailable(f"case-svc answered {response.status_code}")
    try:
        return CaseView.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("case-svc answered in an unexpected shape") from exc
