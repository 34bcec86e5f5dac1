"""identity-svc, as case-svc needs it: the applicant's verified identity, asked with the
caller's own token (``GET /identity/v1/me/verified-identity``). identity-svc answers about the
token's subject and nobody else: the principal when a delegate files, the enterprise for an
enterprise token. The answer is personal data: it is never logged.

A citizen without a verified real name hears identity-svc's ``insufficient_assurance`` (the
step to take) as it is, and so does a caller whose token identity-svc refuses (a session ended
since the gateway last heard of it: 401 ``token_revoked``; or one that expired on the way);
anything else from identity-svc is a 503.
"""

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from servicekit.auth import InsufficientAssurance, TokenExpired, TokenRevoked
from servicekit.http import raise_for_problem
from servicekit.problems import UpstreamUnavailable

VERIFIED_IDENTITY_PATH = "/identity/v1/me/verified-identity"


class VerifiedIdentity(BaseModel):
    """A person's name and ID number, or an enterprise's credit code and name, named as the
    catalog's forms name the parts of the applicant's identity (``x-applicant``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject: Literal["person", "enterprise"]
    name: str | None = None
    id_number: str | None = None
    credit_code: str | None = None
    enterprise_name: str | None = None

    def registry_subject(self) -> dict[str, str] | None:
        """The identity as the exchange names a subject: a person's ID number, an enterprise's
        credit code; None if identity-svc told neither."""
        if self.subject == "person" and self.id_number is not None:
            return {"id_number": self.id_number}
        if self.subject == "enterprise" and self.credit_code is not None:
            return {"credit_code": self.credit_code}
        return None

    def parts(self) -> dict[str, str]:
        """Each part the identity has, by its name."""
        return {
            part: value
            for part, value in self.model_dump(exclude={"subject"}).items()
            if value is not None
        }


async def verified_identity(http: httpx.AsyncClient, *, token: str) -> VerifiedIdentity:
    try:
        response = await http.get(
            VERIFIED_IDENTITY_PATH, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("identity-svc could not be reached") from exc
    raise_for_problem(
        response,
        upstream="identity-svc",
        passed_on=(InsufficientAssurance, TokenRevoked, TokenExpired),
    )
    try:
        return VerifiedIdentity.model_validate_json(response.content)
    except ValidationError:
        # Not chained: the validation error quotes the values, and they are personal.
        raise UpstreamUnavailable("identity-svc answered in an unexpected shape") from None
