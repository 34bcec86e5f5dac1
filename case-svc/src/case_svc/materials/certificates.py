"""Electronic certificates as materials: the applicant (or her delegate) attaches one of her own
certificates by its number instead of uploading a scan; case-svc reads it from the exchange's
certificate registry (the hosted resource ``electronic_certificate``) and keeps what it is, who
issued it, its validity and the ledger receipt of the read. Services never commit: the
request's transaction does.

Whose certificate: the subject of the read is the applicant's verified identity, which
identity-svc tells for the caller's own token (a person's ID number, an enterprise's credit
code; the principal's when a delegate acts), never anything in the request. A number the
registry holds for someone else is, to her, not held (422 ``certificate_not_held``), exactly
as a number nobody holds.

Why no consent is asked: the exchange asks a subject's consent only of departments (staff and
department systems) reading personal fields; a platform service's read, under its own grant,
is governed by the grant alone (``data_exchange_svc.citizens.consents``). case-svc reads as the
platform service it is (its client-credentials token, consumer ``case-svc``), for the case the
applicant attached the certificate to (the call's ``case_id``) and for ``case_review``, on a
grant the exchange's seed gives it for just the fields below (``clients.exchange.FIELDS``: not
the holder's name). Her act of attaching is what starts the read, but the exchange has no way
to take that act as a consent (a consent names a department), so the platform's own grant is
what the read rests on; the read shows in her access log at the exchange all the same, with the
case and the purpose.

Validity is decided here, on the service's clock in China's time, by the rule the registry's
``currently_valid`` predicate follows (status ``valid``, and today within its period): that
predicate answers matches only, and a second call would add a second ledger entry for nothing.
"""

import datetime as dt
import unicodedata

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.cases.applicant import MIN_LOA
from case_svc.cases.repository import ENDED_STATUSES
from case_svc.cases.service import acting_for, actor_of, visible_case
from case_svc.clients import exchange
from case_svc.clients.exchange import CertificateRow, HoldsNoCertificates, ServiceToken
from case_svc.clients.identity import VerifiedIdentity, verified_identity
from case_svc.materials import repository
from case_svc.materials.schemas import CertificateMaterialRead
from case_svc.materials.service import MaterialsClosed, TooManyMaterials, certificate_view
from case_svc.models import Case, CaseCertificate
from case_svc.workflow.deadlines import LOCAL_ZONE
from case_svc.workflow.state_machine import Role
from servicekit.auth import Principal, require_assurance
from servicekit.ids import new_id
from servicekit.problems import (
    Conflict,
    DomainError,
    Forbidden,
    UpstreamUnavailable,
    extension_members,
)

log = structlog.get_logger(__name__)

#: Why case-svc reads the registry: the applicant's materials are reviewed with the case.
PURPOSE = "case_review"
#: The kind of applicant each kind of verified identity is.
_APPLICANT_TYPE = {"person": "citizen", "enterprise": "enterprise"}


class CertificateAttachNotAllowed(Forbidden):
    code = "certificate_attach_not_allowed"
    title = "Only the applicant (or her delegate) attaches her own certificates to her case"


class CertificateNotHeld(DomainError):
    status = 422
    code = "certificate_not_held"
    title = "The applicant holds no certificate of this number in the certificate registry"


class CertificateNotValid(DomainError):
    status = 422
    code = "certificate_not_valid"
    title = "The certificate is not valid today: revoked, cancelled, expired or not yet valid"
    members = extension_members(
        certificate_status={
            "type": "string",
            "description": "Its status in the registry",
            "examples": ["revoked"],
        },
        valid_from={"type": "string", "format": "date", "examples": ["2022-03-14"]},
        valid_until={
            "type": ["string", "null"],
            "format": "date",
            "description": "None: valid for the long term",
            "examples": ["2032-03-14"],
        },
    )


class CertificateAlreadyAttached(Conflict):
    code = "certificate_already_attached"
    title = "The case holds this certificate already"
    members = extension_members(
        material_id={
            "type": "string",
            "format": "uuid",
            "description": "The material that holds it",
            "examples": ["0196f3c2-9b21-7d3f-8c2e-4a5b6c7d8e9f"],
        }
    )


def normalised_number(number: str) -> str:
    """A certificate number as it is compared: full-width characters, spaces around and the
    case of its letters make no difference."""
    return unicodedata.normalize("NFKC", number).strip().upper()


def _subject_of(identity: VerifiedIdentity, case: Case) -> dict[str, str]:
    """The registry subject of the applicant: her ID number, or the enterprise's credit code."""
    if _APPLICANT_TYPE[identity.subject] != case.applicant_type:
        raise UpstreamUnavailable("identity-svc answered for another kind of applicant")
    subject = identity.registry_subject()
    if subject is None:
        raise UpstreamUnavailable("identity-svc told no identifier of the applicant")
    return subject


def _dates(row: CertificateRow) -> tuple[dt.date, dt.date | None]:
    try:
        valid_from = dt.date.fromisoformat(row.valid_from)
        valid_until = dt.date.fromisoformat(row.valid_until) if row.valid_until else None
    except ValueError:
        raise UpstreamUnavailable("data-exchange-svc answered a date it cannot mean") from None
    return valid_from, valid_until


def _require_valid(row: CertificateRow, today: dt.date) -> tuple[dt.date, dt.date | None]:
    valid_from, valid_until = _dates(row)
    within = valid_from <= today and (valid_until is None or today <= valid_until)
    if row.certificate_status != "valid" or not within:
        raise CertificateNotValid(
            certificate_status=row.certificate_status,
            valid_from=valid_from.isoformat(),
            valid_until=valid_until.isoformat() if valid_until is not None else None,
        )
    return valid_from, valid_until


async def _already_attached(
    session: AsyncSession, case: Case, number: str
) -> CaseCertificate | None:
    # Numbers are sealed with a data key each, so no query compares them: a case holds few
    # materials (``materials_per_case``), opened here and compared in clear.
    for held in await repository.certificates_of(session, case.id):
        if normalised_number(held.certificate_number) == number:
            return held
    return None


async def _refuse_what_the_case_refuses(
    session: AsyncSession, case: Case, status: str, number: str, max_per_case: int
) -> None:
    """The refusals the case decides alone, whatever the registry holds: it has ended, it holds
    this certificate already, it holds as many materials as it may."""
    if status in ENDED_STATUSES:
        raise MaterialsClosed(case_status=status)
    held = await _already_attached(session, case, number)
    if held is not None:
        raise CertificateAlreadyAttached(material_id=str(held.id))
    if await repository.count_materials(session, case.id) >= max_per_case:
        raise TooManyMaterials(max_materials=max_per_case)


async def attach_certificate(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    token: ServiceToken | None,
    principal: Principal,
    case_no: str,
    certificate_number: str,
    max_per_case: int,
    now: dt.datetime,
) -> CertificateMaterialRead:
    """Attach one of the applicant's own certificates to her case, while the case takes her
    materials. The caller's right to the case is settled before anything is read.

    Every read of the registry is an entry in the exchange's ledger and in her access log, so
    what the case alone refuses (``materials_closed``, ``certificate_already_attached``,
    ``too_many_materials``) is refused before the exchange is called. Those checks are made
    again after the read, under the hold of the case (which is not taken across the call: a
    lock held while another service answers would stall every upload to the case): a request
    racing this one (another attachment or upload, the case ending) can still make the second
    check refuse, and then the read is in the ledger with nothing attached."""
    case, roles = await visible_case(session=session, principal=principal, case_no=case_no)
    if Role.APPLICANT not in roles:
        raise CertificateAttachNotAllowed()
    number = normalised_number(certificate_number)
    await _refuse_what_the_case_refuses(session, case, case.status, number, max_per_case)
    # Whose certificates: her verified identity, so the app is told the step before it is asked.
    require_assurance(principal, MIN_LOA)
    if token is None:
        raise UpstreamUnavailable("case-svc has no client secret to call data-exchange-svc with")
    subject = _subject_of(await verified_identity(http, token=principal.token), case)
    try:
        read = await exchange.certificates_of(
            http, token=token, subject=subject, case_no=case.case_no, purpose=PURPOSE
        )
    except HoldsNoCertificates:
        raise CertificateNotHeld() from None
    row = next(
        (row for row in read.certificates if normalised_number(row.certificate_number) == number),
        None,
    )
    if row is None:
        raise CertificateNotHeld()
    valid_from, valid_until = _require_valid(row, now.astimezone(LOCAL_ZONE).date())
    # Again under the hold, with the case as it is now: two attachments of one certificate at
    # once keep one, and the case may have ended while the registry answered.
    status = await repository.hold_case(session, case.id)
    await _refuse_what_the_case_refuses(session, case, status, number, max_per_case)
    certificate = CaseCertificate(
        id=new_id(),
        case_id=case.id,
        certificate_type=row.certificate_type,
        certificate_name=row.certificate_name,
        certificate_number=row.certificate_number,
        issuing_department=row.issuing_department,
        valid_from=valid_from,
        valid_until=valid_until,
        certificate_status=row.certificate_status,
        call_id=read.call_id,
        receipt=read.receipt,
        uploaded_by=actor_of(principal),
        uploader_role=Role.APPLICANT.value,
        acting_for=acting_for(principal),
        uploaded_at=now,
    )
    await repository.add_certificate(session, certificate)
    log.info(
        "certificate_attached",
        case_id=str(case.id),
        material_id=str(certificate.id),
        call_id=read.call_id,
        certificate_type=row.certificate_type,
    )
    return certificate_view(certificate, roles)
