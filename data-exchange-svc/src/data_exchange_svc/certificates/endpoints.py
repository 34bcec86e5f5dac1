"""HTTP endpoint of an issuer's publication of one certificate: parse, identify the caller,
delegate."""

from fastapi import APIRouter, Response

from data_exchange_svc.certificates import service
from data_exchange_svc.certificates.issuers import issuers
from data_exchange_svc.certificates.schemas import CertificateIssue, CertificateIssued
from data_exchange_svc.certificates.service import (
    CertificateNumberTaken,
    InvalidCertificate,
    NotAnIssuer,
    PublicationRaced,
    PublisherNotAllowed,
)
from data_exchange_svc.deps import IdentifiersDep, LedgerDep, LedgerSignerDep, ProviderSystemDep
from data_exchange_svc.identifiers import InvalidSubject
from data_exchange_svc.ledger.service import receipt_document
from data_exchange_svc.resources.values import today_in_china
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/exchange/v1/certificates", tags=["certificate library"])
#: Read when the app is built: a file that contradicts the library fails the start, not a call.
ISSUERS = issuers()


@router.post(
    "",
    response_model=CertificateIssued,
    status_code=201,
    responses={
        200: {
            "model": CertificateIssued,
            "description": "Already published for this holder: the same answer, nothing changed",
        },
        **problem_responses(
            NotAnIssuer,
            PublisherNotAllowed,
            InvalidCertificate,
            InvalidSubject,
            CertificateNumberTaken,
            PublicationRaced,
        ),
    },
)
async def publish_certificate(
    issue: CertificateIssue,
    principal: ProviderSystemDep,
    session: SessionDep,
    protector: IdentifiersDep,
    ledger: LedgerDep,
    signer: LedgerSignerDep,
    response: Response,
) -> CertificateIssued:
    """Publish one certificate its issuer decided to the certificate library
    (``electronic_certificate``): a row added to the holder's, none replaced. A department
    system publishes for its own department, of a type that issues the certificate (403
    ``not_an_issuer``); a platform service listed as a publisher (403
    ``publisher_not_allowed``) names the issuing department. The holder's name comes from the
    exchange's registers.

    Publishing the same number for the same holder again changes nothing and answers the same
    (200); the number held by another holder is refused (409 ``certificate_number_taken``).
    The publication is a ledger entry (kind ``load``, purpose ``certificate_issuance``, the
    issuing department as consumer, the case) in the holder's access log; its receipt comes
    back."""
    published = await service.publish(
        session,
        principal,
        issue,
        issuers=ISSUERS,
        protector=protector,
        ledger=ledger,
        key_id=signer.key_id,
        today=today_in_china(),
    )
    if not published.created:
        response.status_code = 200
    record = published.record
    return CertificateIssued.model_validate(
        {
            "certificate_type": record.certificate_type,
            "certificate_name": published.kind.name,
            "certificate_number": published.number,
            "issuing_department": record.issuing_department,
            "valid_from": record.valid_from,
            "valid_until": record.valid_until,
            "certificate_status": "valid",
            "holder_named": published.holder_named,
            "case_id": record.case_id,
            "published_at": record.published_at,
            "call_id": record.call_id,
            "receipt": receipt_document(published.receipt),
        }
    )
