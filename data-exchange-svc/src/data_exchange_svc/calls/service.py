"""The rules of a data call and a match: who may ask, about what, why, and what they learn.

Checks run in an order that discloses nothing early: the resource and field names first (public
information), then the subject's form, then the caller's grants, then (for a department reading
personal data) the subject's consent for the case; only a caller that passes them all learns
whether the subject exists. A match tells even a granted caller nothing but yes or no.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import consents
from data_exchange_svc.grants import repository as grants_repository
from data_exchange_svc.grants.service import authorise
from data_exchange_svc.identifiers import IdentifierProtector, parse_id_number
from data_exchange_svc.ledger import service as ledger
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.service import AccessAttempt
from data_exchange_svc.models import PopulationRecord
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.registry.resource import POPULATION
from data_exchange_svc.registry.service import FieldValue, claims_hold, field_values
from data_exchange_svc.resources.service import require_fields, shared_resource
from servicekit.auth import Principal, require_type
from servicekit.db import utcnow
from servicekit.ids import new_id
from servicekit.problems import DomainError, Forbidden, NotFound
from servicekit.resident_id import InvalidResidentId

#: China keeps one offset all year: the date of birth-date checks is the date in Beijing.
_CHINA = dt.timezone(dt.timedelta(hours=8))


class InvalidSubject(DomainError):
    status = 422
    code = "invalid_subject"
    title = "The subject's identity number is not valid"


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    title = "The resource holds no such subject"


class ConsumerUnidentified(Forbidden):
    code = "consumer_unidentified"
    title = "The token names no department to act for"


class ResourceNotServed(DomainError):
    status = 501
    code = "resource_not_served"
    title = "The exchange cannot yet answer calls on this resource"


def consumer_of(principal: Principal) -> str:
    """Whose grants apply: a service's own name; a department's id for its staff and systems."""
    if principal.typ in ("staff", "department_system") and principal.dept:
        return principal.dept
    return principal.sub


def attempt_for(
    principal: Principal,
    *,
    kind: Literal["match", "call"],
    resource: str,
    fields: list[str],
    purpose: str,
    case_id: str | None,
    id_number: str,
    protector: IdentifierProtector,
) -> AccessAttempt:
    return AccessAttempt(
        call_id=new_id(),
        kind=kind,
        consumer=consumer_of(principal),
        actor=principal.sub,
        resource=resource,
        fields=tuple(dict.fromkeys(fields)),
        purpose=purpose,
        case_id=case_id,
        subject_hash=protector.lookup_hash(id_number),
    )


def _require_consumer(principal: Principal) -> None:
    require_type(principal, "service", "staff", "department_system")
    if principal.typ != "service" and not principal.dept:
        raise ConsumerUnidentified()


def _require_valid_subject(id_number: str) -> None:
    try:
        parse_id_number(id_number, today=dt.datetime.now(_CHINA).date())
    except InvalidResidentId as exc:
        raise InvalidSubject(str(exc), reason=exc.reason) from exc


async def _granted_record(
    session: AsyncSession,
    *,
    principal: Principal,
    attempt: AccessAttempt,
    id_number: str,
    to_match: bool,
) -> PopulationRecord | None:
    _require_consumer(principal)
    resource = await shared_resource(session, attempt.resource)
    require_fields(resource, attempt.fields, to_match=to_match)
    _require_valid_subject(id_number)
    grants = await grants_repository.active_for(
        session, consumer=attempt.consumer, resource_code=resource.code, now=utcnow()
    )
    authorise(grants, purpose=attempt.purpose, fields=attempt.fields)
    if not to_match and consents.needs_consent(principal, resource, attempt.fields):
        await consents.require_consent(
            session,
            subject_hash=attempt.subject_hash,
            consumer=attempt.consumer,
            resource=resource.code,
            fields=attempt.fields,
            purpose=attempt.purpose,
            case_id=attempt.case_id,
            now=utcnow(),
        )
    if resource.code != POPULATION.code:
        raise ResourceNotServed(resource=resource.code)
    return await registry_repository.get_by_hash(session, attempt.subject_hash)


@dataclass(frozen=True, slots=True)
class MatchAnswer:
    match: bool
    receipt: Receipt


async def match(
    *,
    session: AsyncSession,
    ledger_appender: LedgerAppender,
    principal: Principal,
    attempt: AccessAttempt,
    id_number: str,
    claims: dict[str, str],
) -> MatchAnswer:
    """Yes or no: the subject exists and every claim holds. An unknown subject is simply no."""
    record = await _granted_record(
        session, principal=principal, attempt=attempt, id_number=id_number, to_match=True
    )
    matched = record is not None and claims_hold(record, claims)
    return MatchAnswer(matched, await ledger.record(ledger_appender, attempt))


@dataclass(frozen=True, slots=True)
class CallAnswer:
    fields: dict[str, FieldValue]
    source_timestamp: dt.datetime
    receipt: Receipt


async def call(
    *,
    session: AsyncSession,
    ledger_appender: LedgerAppender,
    principal: Principal,
    attempt: AccessAttempt,
    id_number: str,
    protector: IdentifierProtector,
) -> CallAnswer:
    """The requested fields of the subject, if a grant allows every one for the purpose."""
    record = await _granted_record(
        session, principal=principal, attempt=attempt, id_number=id_number, to_match=False
    )
    if record is None:
        raise SubjectNotFound()
    values = field_values(record, attempt.fields, protector=protector)
    receipt = await ledger.record(ledger_appender, attempt)
    return CallAnswer(fields=values, source_timestamp=record.updated_at, receipt=receipt)
