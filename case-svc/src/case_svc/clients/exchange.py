"""data-exchange-svc, as case-svc needs it: the electronic certificates a person or an
enterprise holds (``POST /exchange/v1/calls`` on the hosted resource ``electronic_certificate``),
read under case-svc's own service token for a case, with the ledger receipt the exchange gives
every call; and the certificate a completed case issued, published to that library on the
issuing department's behalf (``POST /exchange/v1/certificates``).

The answer is personal data (certificate numbers): it is never logged. A subject the exchange
holds no certificates of is ``HoldsNoCertificates``; anything else that is not an answer (the
exchange unreachable, a refusal of case-svc's grant or token, a shape we cannot read) is a 503:
the platform's failure, not the applicant's doing.

A 401 means the kept service token expired early or was revoked: it is forgotten and the call
made once more with a new one (a second 401 is a failure like any other).
"""

from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from servicekit.problems import UpstreamUnavailable
from servicekit.service_tokens import ServiceTokenUnavailable

CALLS_PATH = "/exchange/v1/calls"
CERTIFICATES_PATH = "/exchange/v1/certificates"
RESOURCE = "electronic_certificate"
#: What case-svc reads of a certificate: what it is, its number (to find the one asked for),
#: who issued it and its validity. Not the holder's name (the subject is the applicant
#: already), nor ``currently_valid``, a predicate that only answers matches: validity is
#: decided from status and period, by the rule the exchange's predicate follows.
FIELDS = (
    "certificate_type",
    "certificate_name",
    "certificate_number",
    "issuing_department",
    "valid_from",
    "valid_until",
    "certificate_status",
)


class ServiceToken(Protocol):
    """The service's token: ``servicekit.service_tokens.ClientCredentials`` in the running app."""

    async def __call__(self) -> str: ...

    def forget(self, token: str | None = None) -> None: ...


class HoldsNoCertificates(Exception):
    """The exchange holds no certificate of the subject (404 ``subject_not_found``)."""


class CertificateRow(BaseModel):
    """One certificate, as the exchange's fields name its parts (dates ISO 8601)."""

    model_config = ConfigDict(frozen=True)

    certificate_type: str
    certificate_name: str
    certificate_number: str
    issuing_department: str
    valid_from: str
    valid_until: str | None
    certificate_status: str


class CertificatesRead(BaseModel):
    """Every certificate of the subject, the call's id and its ledger receipt."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    certificates: tuple[CertificateRow, ...]
    receipt: dict[str, Any]


class _CallAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    call_id: str
    #: A many-row resource answers each field with the list of its rows' values.
    fields: dict[str, list[Any]]
    receipt: dict[str, Any]


async def certificates_of(
    http: httpx.AsyncClient,
    *,
    token: ServiceToken,
    subject: dict[str, str],
    case_no: str,
    purpose: str,
) -> CertificatesRead:
    """The subject's certificates (``subject``: ``{"id_number": ...}`` or ``{"credit_code":
    ...}``), read for the case ``case_no``."""
    body = {
        "resource": RESOURCE,
        "subject": subject,
        "fields": list(FIELDS),
        "purpose": purpose,
        "case_id": case_no,
    }
    response = await post_as_service(http, CALLS_PATH, body, token=token)
    if response.status_code == 404 and _code(response) == "subject_not_found":
        raise HoldsNoCertificates()
    if response.status_code != 200:
        failure: dict[str, Any] = {"upstream_status": response.status_code}
        code = _code(response)
        if code is not None:
            failure["upstream_code"] = code
        raise UpstreamUnavailable(f"data-exchange-svc answered {response.status_code}", **failure)
    try:
        answer = _CallAnswer.model_validate_json(response.content)
        columns = [answer.fields[name] for name in FIELDS]
        if len({len(column) for column in columns}) != 1:
            raise UpstreamUnavailable("data-exchange-svc answered rows of unequal lengths")
        rows = tuple(
            CertificateRow.model_validate(dict(zip(FIELDS, values, strict=True)))
            for values in zip(*columns, strict=True)
        )
    except (ValidationError, KeyError):
        # Not chained: a validation error quotes the values, and they are personal.
        raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from None
    return CertificatesRead(call_id=answer.call_id, certificates=rows, receipt=answer.receipt)


class Publication(BaseModel):
    """The exchange's answer to a publication: its call id and the ledger receipt."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: str
    receipt: dict[str, Any]


class PublicationRefused(Exception):
    """The exchange refused the publication for good (403 not an issuer, 409 the number is
    another holder's, 422): publishing it again would change nothing."""

    def __init__(self, code: str) -> None:
        super().__init__(f"data-exchange-svc refused the publication: {code}")
        self.code = code


#: Refusals that may pass: a token renewed once more, a request timed out, a rate limit, two
#: publications crossing.
_TRANSIENT_STATUSES = frozenset({401, 408, 429})
_TRANSIENT_CODES = frozenset({"publication_raced"})


async def publish_certificate(
    http: httpx.AsyncClient, *, token: ServiceToken, certificate: dict[str, Any]
) -> Publication:
    """Publish one certificate (the body of ``POST /exchange/v1/certificates``). A refusal for
    good is ``PublicationRefused``; anything else that is not an answer ``UpstreamUnavailable``,
    to be tried again later. The exchange answers a repeat as it answered the first time."""
    response = await post_as_service(http, CERTIFICATES_PATH, certificate, token=token)
    code = _code(response)
    if response.status_code in (200, 201):
        try:
            return Publication.model_validate_json(response.content)
        except ValidationError:
            raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from None
    if (
        400 <= response.status_code < 500
        and response.status_code not in _TRANSIENT_STATUSES
        and code not in _TRANSIENT_CODES
    ):
        raise PublicationRefused(code or str(response.status_code))
    failure: dict[str, Any] = {"upstream_status": response.status_code}
    if code is not None:
        failure["upstream_code"] = code
    raise UpstreamUnavailable(f"data-exchange-svc answered {response.status_code}", **failure)


async def post_as_service(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], *, token: ServiceToken
) -> httpx.Response:
    """POST ``body`` to the exchange as case-svc; once more with a new token if the kept one is
    refused (401)."""
    sent, response = await _post(http, path, body, token)
    if response.status_code == 401:
        token.forget(sent)
        _, response = await _post(http, path, body, token)
    return response


async def _post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], token: ServiceToken
) -> tuple[str, httpx.Response]:
    try:
        sent = await token()
    except ServiceTokenUnavailable as exc:
        raise UpstreamUnavailable("case-svc holds no token to call data-exchange-svc") from exc
    try:
        response = await http.post(path, json=body, headers={"Authorization": f"Bearer {sent}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("data-exchange-svc could not be reached") from exc
    return sent, response


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


# --- pre-fill ----------------------------------------------------------------------------------

#: Why case-svc reads for a draft: a purpose on the citizen's behalf, so the exchange asks her
#: consent to the draft (naming the department that will handle it) even of case-svc.
PREFILL_PURPOSE = "case_prefill"
#: The exchange's refusals that her consent would lift: the app asks it, then fills again.
CONSENT_REFUSALS = frozenset({"consent_required", "consent_revoked", "consent_expired"})


class PrefillRead(BaseModel):
    """One pre-fill read: the values of the fields asked, with their provenance."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: str
    provider_department_type: str
    #: Her consents the read rested on, by the exchange's ids.
    consents: list[str] = []
    fields: dict[str, Any]
    source_timestamp: str | None = None
    receipt: dict[str, Any]


class PrefillRefused(Exception):
    """The exchange answered the read with a refusal of the caller's request (a 4xx but 401):
    the fields stay for her to type, or to be filled once she consents."""

    def __init__(self, code: str) -> None:
        super().__init__(f"data-exchange-svc refused the pre-fill read: {code}")
        self.code = code


async def prefill_read(
    http: httpx.AsyncClient,
    *,
    token: ServiceToken,
    subject: dict[str, str],
    resource: str,
    fields: list[str],
    draft_no: str,
    department_id: str,
) -> PrefillRead:
    """Read ``fields`` of ``resource`` about the applicant (``subject``) for her draft
    ``draft_no``, on behalf of the department that will handle it. A refusal is
    ``PrefillRefused``; anything that is not an answer ``UpstreamUnavailable``."""
    body = {
        "resource": resource,
        "subject": subject,
        "fields": fields,
        "purpose": PREFILL_PURPOSE,
        "case_id": draft_no,
        "for_department": department_id,
    }
    response = await post_as_service(http, CALLS_PATH, body, token=token)
    code = _code(response)
    if response.status_code == 200:
        try:
            return PrefillRead.model_validate_json(response.content)
        except ValidationError:
            # Not chained: a validation error quotes the values, and they are personal.
            raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from None
    if 400 <= response.status_code < 500 and response.status_code != 401:
        raise PrefillRefused(code or str(response.status_code))
    failure: dict[str, Any] = {"upstream_status": response.status_code}
    if code is not None:
        failure["upstream_code"] = code
    raise UpstreamUnavailable(f"data-exchange-svc answered {response.status_code}", **failure)
