"""case-svc, as a consent and a department's call need it: is the case the citizen names hers,
open, and handled by the department she lets read her data? Is the case a department names on a
call one it handles, and whose applicant is it?

Asked through the gateway with the caller's own token (the citizen's: a delegate cannot consent
for her; the department's staff or system's for a call), so that case-svc answers exactly what
it would answer the caller and the gateway routes the case number to the instance of its
region. A draft application (which becomes a case when submitted) is asked about the same way,
by its own path: its status is ``draft``. A case the caller cannot see is "not found", whether
it exists or not: the answer tells nothing about other people's cases.
"""

import dataclasses

import httpx

from servicekit.case_numbers import is_draft_number
from servicekit.problems import Conflict, DomainError, UpstreamUnavailable, extension_members

#: Statuses in which a case is still being handled, or a draft still being written: data for
#: it may still be needed.
OPEN_STATUSES = frozenset({"draft", "submitted", "accepted"})


class CaseNotFound(DomainError):
    status = 422
    code = "unknown_case"
    title = "No case of the caller has this number"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        }
    )


class CaseNotHandledByConsumer(DomainError):
    status = 422
    code = "case_not_handled_by_consumer"
    title = "The department the consent names does not handle this case"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        },
        consumer={
            "type": "string",
            "description": "The department",
            "examples": ["330302-public_security"],
        },
    )


class CaseClosed(Conflict):
    code = "case_closed"
    title = "The case is no longer being handled: no data is needed for it"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        },
        case_status={"type": "string", "examples": ["completed"]},
    )


@dataclasses.dataclass(frozen=True, slots=True)
class CaseView:
    case_no: str
    department_id: str
    status: str
    #: The account that applied: a citizen's account id, an enterprise's credit code.
    applicant_id: str
    applicant_type: str


async def case_of_caller(http: httpx.AsyncClient, authorization: str, case_no: str) -> CaseView:
    """The case (or draft application) as case-svc shows it to the holder of
    ``authorization``; a draft answers with status ``draft``."""
    path = (
        f"/cases/v1/drafts/{case_no}" if is_draft_number(case_no) else f"/cases/v1/cases/{case_no}"
    )
    try:
        response = await http.get(path, headers={"Authorization": authorization})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("case-svc could not be reached") from exc
    if response.status_code in (403, 404, 422):
        raise CaseNotFound(case_id=case_no)
    if response.status_code != 200:
        raise UpstreamUnavailable(f"case-svc answered {response.status_code}")
    try:
        case = response.json()
        return CaseView(
            case["draft_no"] if is_draft_number(case_no) else case["case_no"],
            case["department_id"],
            case["status"],
            case["applicant_id"],
            case["applicant_type"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamUnavailable("case-svc's answer is not a case") from exc


def require_open_case_of(case: CaseView, consumer: str) -> None:
    if case.department_id != consumer:
        raise CaseNotHandledByConsumer(case_id=case.case_no, consumer=consumer)
    if case.status not in OPEN_STATUSES:
        raise CaseClosed(case_id=case.case_no, case_status=case.status)
