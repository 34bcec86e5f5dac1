"""The case a department's call or match names: a real case of the subject's, handled by that
department, checked before the attempt is recorded (the subject's access log shows it).

A call whose consent the subject gave for the case needs nothing more: her consent was given
for a case of hers that the department handles (case-svc said so then). Otherwise the subject's
consent to the department for that case still vouches for it; failing that, case-svc is asked
with the caller's own token, as it would answer the caller: a case it does not show the caller
(another department's, or none) is unknown, and one whose applicant is not the subject is
refused. A platform service's case (the platform's own flows) is taken as it is.

What was found is kept by the process for ``case_cache_seconds``, so that the calls of one
case ask case-svc (or the consents) once: a transfer of the case goes unseen that long.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import repository as citizens_repository
from data_exchange_svc.citizens.cases import CaseNotFound, CaseView, case_of_caller
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger.service import AccessAttempt
from servicekit.auth import Principal
from servicekit.problems import DomainError, extension_members

#: (department, case number, subject hash)
CaseOfSubject = tuple[str, str, str]


class CaseNotOfSubject(DomainError):
    status = 422
    code = "case_not_of_subject"
    title = "The case named is not one of the subject's"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        }
    )


class CasesOfSubjects:
    """The (department, case, subject) triples found to belong together, each for
    ``ttl_seconds``. Only what was found is kept: a refusal is asked again next time (the case
    may have been shown to another of the department's callers)."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._found_at: dict[CaseOfSubject, float] = {}

    def known(self, key: CaseOfSubject) -> bool:
        found_at = self._found_at.get(key)
        return found_at is not None and self._clock() - found_at < self._ttl_seconds

    def remember(self, key: CaseOfSubject) -> None:
        if len(self._found_at) >= self._max_entries:
            self._found_at.clear()
        self._found_at[key] = self._clock()


@dataclass(frozen=True, slots=True)
class CaseLookup:
    """How to ask case-svc about a case: through the gateway, as the caller."""

    http: httpx.AsyncClient
    authorization: str


async def require_case_of_subject(
    session: AsyncSession,
    *,
    principal: Principal,
    attempt: AccessAttempt,
    consented: bool,
    cases_of_subjects: CasesOfSubjects,
    case_lookup: CaseLookup,
    protector: IdentifierProtector,
) -> None:
    """Refuse the attempt unless the case it names (if any) is the subject's and handled by
    the caller's department. ``consented``: the subject's consent for this very case was
    already required of the attempt, and found."""
    if attempt.case_id is None or consented or principal.typ == "service":
        return
    key = (attempt.consumer, attempt.case_id, attempt.subject_hash)
    if cases_of_subjects.known(key):
        return
    vouched = await citizens_repository.consent_names_case(
        session,
        subject_hash=attempt.subject_hash,
        consumer=attempt.consumer,
        case_id=attempt.case_id,
    )
    if not vouched:
        case = await case_of_caller(case_lookup.http, case_lookup.authorization, attempt.case_id)
        if case.department_id != attempt.consumer:
            raise CaseNotFound(case_id=attempt.case_id)
        if await _applicant_subject(session, case, protector) != attempt.subject_hash:
            raise CaseNotOfSubject(case_id=attempt.case_id)
    cases_of_subjects.remember(key)


async def _applicant_subject(
    session: AsyncSession, case: CaseView, protector: IdentifierProtector
) -> str | None:
    """The registry subject (its hash) of the case's applicant: an enterprise's credit code; a
    citizen's account as identity-svc linked it (none: no verified real name, no subject)."""
    if case.applicant_type == "enterprise":
        return protector.credit_code_hash(case.applicant_id)
    if case.applicant_type == "citizen":
        link = await citizens_repository.link_of_account(session, case.applicant_id)
        return link.subject_hash if link is not None else None
    return None
