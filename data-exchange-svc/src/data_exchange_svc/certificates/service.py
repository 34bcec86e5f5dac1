"""An issuer publishes one certificate to the certificate library (``electronic_certificate``),
which big-data administration keeps: the practice of issuing departments pushing each licence
they decide to the provincial library, so that the next application finds it there.

Who may: a department system whose own department is of a type that issues certificates of that
type (``issuers.toml``), for its department; or a platform service listed there as a publisher,
naming the issuing department, which must be of such a type. A publication adds one row to the
subject's and moves none (none at all if the keeper's bulk load holds it for the subject
already); the same number for the same subject again changes nothing and answers the same; the
same number published for another subject is refused (numbers are found by keyed hash among
publications: a bulk load's rows are sealed, not searched across subjects). The holder's name
comes from the exchange's own registers, never from the caller. Every publication is a ledger
entry in the holder's access log, naming the issuing department, the caller and the case.
"""

import datetime as dt
from dataclasses import dataclass

from pydantic import JsonValue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.certificates import repository
from data_exchange_svc.certificates.issuers import CERTIFICATES, CertificateKind, Issuers
from data_exchange_svc.certificates.schemas import CertificateIssue
from data_exchange_svc.datasets import repository as datasets_repository
from data_exchange_svc.datasets.repository import HostedRow
from data_exchange_svc.datasets.store import hosted_row
from data_exchange_svc.identifiers import (
    IdentifierProtector,
    InvalidSubject,
    InvalidSubjectIdentifier,
    SubjectRef,
    parse_subject,
)
from data_exchange_svc.jurisdiction import Department, department_of, parse_department
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.service import receipt_of, record_loads
from data_exchange_svc.models import IssuedCertificate
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.resources.spec import HOSTED
from servicekit.auth import Principal, require_type
from servicekit.db import utcnow
from servicekit.problems import Conflict, DomainError, Forbidden, extension_members

#: The purpose a publication's ledger entry gives.
ISSUE_PURPOSE = "certificate_issuance"
#: Where an enterprise's name is held.
BUSINESS_REGISTRATION = "business_registration"


class NotAnIssuer(Forbidden):
    code = "not_an_issuer"
    title = "The department does not issue certificates of this type"
    members = extension_members(
        certificate_type={"type": "string", "examples": ["senior_citizen_card"]},
        department={
            "type": ["string", "null"],
            "description": "The issuing department, as the token or the request named it",
            "examples": ["330302-public_security"],
        },
        issuer_types={
            "type": "array",
            "items": {"type": "string"},
            "description": "The department types that issue certificates of this type",
            "examples": [["civil_affairs"]],
        },
    )


class PublisherNotAllowed(Forbidden):
    code = "publisher_not_allowed"
    title = "This platform service does not publish certificates on an issuer's behalf"


class InvalidCertificate(DomainError):
    status = 422
    code = "invalid_certificate"
    title = "The certificate cannot be published as stated"
    members = extension_members(
        field={
            "type": "string",
            "description": "The field at fault",
            "examples": ["valid_until"],
        }
    )


class CertificateNumberTaken(Conflict):
    code = "certificate_number_taken"
    title = "Another holder already holds a certificate of this type with this number"


class PublicationRaced(Conflict):
    code = "publication_raced"
    title = "The same certificate, or another of the holder's, was published at the same moment"
    detail = "Publish it again: a publication that took place answers the same."


@dataclass(frozen=True, slots=True)
class Published:
    """A publication: the stored record of it, its kind, its number, whether the holder was
    named, its receipt, and whether this request made it (False: it was already there)."""

    record: IssuedCertificate
    kind: CertificateKind
    number: str
    holder_named: bool
    receipt: Receipt
    created: bool


def _subject(issue: CertificateIssue, today: dt.date) -> SubjectRef:
    try:
        return parse_subject(
            id_number=issue.subject.id_number, credit_code=issue.subject.credit_code, today=today
        )
    except InvalidSubjectIdentifier as exc:
        raise InvalidSubject(str(exc), reason=exc.reason) from exc


def _kind(issue: CertificateIssue, issuers: Issuers) -> CertificateKind:
    kind = issuers.kind(issue.certificate_type)
    if kind is None:
        raise InvalidCertificate(
            f"{issue.certificate_type!r} is no certificate type of the library",
            field="certificate_type",
        )
    if issue.valid_until is not None and issue.valid_until < issue.valid_from:
        raise InvalidCertificate("valid_until is before valid_from", field="valid_until")
    return kind


def issuing_department(
    principal: Principal, issue: CertificateIssue, kind: CertificateKind, issuers: Issuers
) -> Department:
    """The department the certificate is published for, if the caller may publish for it."""
    require_type(principal, "department_system", "service")
    if principal.typ == "service":
        if principal.sub not in issuers.publishers:
            raise PublisherNotAllowed()
        if issue.issuing_department is None:
            raise InvalidCertificate(
                "a platform service names the issuing department", field="issuing_department"
            )
        department = parse_department(issue.issuing_department)
        if department is None:
            raise InvalidCertificate(
                "a department id is <region code>-<department type>", field="issuing_department"
            )
    else:
        department = department_of(principal)
        if department is not None and issue.issuing_department not in (None, department.id):
            # A department system publishes for its own department only.
            department = None
    if department is None or department.type not in kind.issuers:
        raise NotAnIssuer(
            certificate_type=kind.type,
            department=department.id if department else issue.issuing_department,
            issuer_types=sorted(kind.issuers),
        )
    return department


async def _holder_name(session: AsyncSession, subject: SubjectRef, subject_hash: str) -> str | None:
    """The holder's name as the exchange's registers hold it; None if they do not."""
    if subject.kind == "person":
        person = await registry_repository.get_by_hash(session, subject_hash)
        return None if person is None else person.name
    rows = await datasets_repository.rows_of(session, BUSINESS_REGISTRATION, subject_hash)
    name = rows[0].field_values.get("enterprise_name") if rows else None
    return name if isinstance(name, str) else None


async def _repeated(
    session: AsyncSession,
    held: IssuedCertificate,
    subject_hash: str,
    kind: CertificateKind,
    number: str,
    *,
    key_id: str,
) -> Published:
    if held.subject_hash != subject_hash:
        raise CertificateNumberTaken()
    named = await _named_at(session, held)
    receipt = await receipt_of(session, held.ledger_seq, key_id=key_id)
    return Published(held, kind, number, named, receipt, created=False)


async def _loaded_row(
    session: AsyncSession, subject_hash: str, certificate_type: str, number: str
) -> HostedRow | None:
    """The subject's row holding this certificate, if a load put it there."""
    for row in await datasets_repository.rows_of(session, CERTIFICATES, subject_hash):
        values = row.field_values
        if (values.get("certificate_type"), values.get("certificate_number")) == (
            certificate_type,
            number,
        ):
            return row
    return None


async def _named_at(session: AsyncSession, held: IssuedCertificate) -> bool:
    rows = await datasets_repository.rows_of(session, CERTIFICATES, held.subject_hash)
    row = next((row for row in rows if row.position == held.position), None)
    return row is not None and row.field_values.get("holder_name") is not None


async def publish(
    session: AsyncSession,
    principal: Principal,
    issue: CertificateIssue,
    *,
    issuers: Issuers,
    protector: IdentifierProtector,
    ledger: LedgerAppender,
    key_id: str,
    today: dt.date,
) -> Published:
    kind = _kind(issue, issuers)
    department = issuing_department(principal, issue, kind, issuers)
    subject = _subject(issue, today)
    subject_hash = protector.subject_hash(subject)
    number = issue.certificate_number
    number_hash = protector.certificate_number_hash(kind.type, number)
    held = await repository.by_number(session, kind.type, number_hash)
    if held is not None:
        return await _repeated(session, held, subject_hash, kind, number, key_id=key_id)
    holder_name = await _holder_name(session, subject, subject_hash)
    # The library may hold it already from its keeper's bulk load: then the publication is
    # recorded against that row, and no second row is added.
    loaded = await _loaded_row(session, subject_hash, kind.type, number)
    position = (
        loaded.position
        if loaded is not None
        else await repository.next_position(session, CERTIFICATES, subject_hash)
    )
    named = (
        holder_name is not None
        if loaded is None
        else loaded.field_values.get("holder_name") is not None
    )
    spec = HOSTED[CERTIFICATES]
    values: dict[str, JsonValue] = {
        "certificate_type": kind.type,
        "certificate_name": kind.name,
        "certificate_number": number,
        "holder_name": holder_name,
        "issuer_department_type": department.type,
        "issuing_department": department.id,
        "valid_from": issue.valid_from.isoformat(),
        "valid_until": issue.valid_until.isoformat() if issue.valid_until else None,
        "certificate_status": "valid",
    }
    # The entry first, as a load's: on SQLite the request's write would hold the lock the
    # ledger's own transaction needs.
    (receipt,) = await record_loads(
        ledger,
        consumer=department.id,
        actor=principal.sub,
        resource=CERTIFICATES,
        fields=tuple(values),
        purpose=ISSUE_PURPOSE,
        subject_hashes=[subject_hash],
        case_id=issue.case_id,
    )
    now = utcnow()
    record = IssuedCertificate(
        certificate_type=kind.type,
        number_hash=number_hash,
        subject_hash=subject_hash,
        position=position,
        issuing_department=department.id,
        valid_from=issue.valid_from,
        valid_until=issue.valid_until,
        case_id=issue.case_id,
        published_by=principal.sub,
        call_id=receipt.entry.call_id,
        ledger_seq=receipt.entry.seq,
        published_at=now,
    )
    try:
        if loaded is None:
            await datasets_repository.insert_many(
                session, [hosted_row(spec, subject_hash, position, values, protector, now)]
            )
        await repository.add(session, record)
    except IntegrityError as exc:
        # Two publications at once: of this number (the other one answers for both), or of two
        # of the holder's certificates for one position. The request is rolled back.
        raise PublicationRaced() from exc
    return Published(record, kind, number, named, receipt, created=True)
