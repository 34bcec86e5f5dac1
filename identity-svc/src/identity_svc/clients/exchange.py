"""data-exchange-svc's registries, as identity-svc needs them, each call under identity-svc's
own service token and a stated purpose: from the population registry, does a name match an ID
number (verify without sharing) and a few fields of a person (registered region, face
template); from the market-regulation registry, is a person an enterprise's legal
representative (verify without sharing) and the enterprise's name, status and region."""

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from servicekit.problems import UpstreamUnavailable

POPULATION = "population"
BUSINESS_REGISTRATION = "business_registration"


class MatchAnswer(BaseModel):
    match: bool
    call_id: str


class CallAnswer(BaseModel):
    call_id: str
    resource: str
    fields: dict[str, Any]


class SubjectNotInRegistry(Exception):
    """The registry holds no such person or enterprise (only ``calls`` says so; ``matches``
    answers false)."""


async def _post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], token: str
) -> httpx.Response:
    try:
        response = await http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("data-exchange-svc could not be reached") from exc
    return response


def _refused(response: httpx.Response) -> UpstreamUnavailable:
    # A refusal here (no grant, a field not granted, a token refused) is the platform's
    # misconfiguration, not the citizen's doing: report it as the upstream's, with its code.
    return UpstreamUnavailable(
        f"data-exchange-svc answered {response.status_code}",
        upstream_status=response.status_code,
        upstream_code=_code(response),
    )


async def _match(
    http: httpx.AsyncClient,
    *,
    token: str,
    resource: str,
    subject: dict[str, str],
    claims: dict[str, str],
    purpose: str,
) -> MatchAnswer:
    body = {"resource": resource, "subject": subject, "claims": claims, "purpose": purpose}
    response = await _post(http, "/exchange/v1/matches", body, token)
    if response.status_code != 200:
        raise _refused(response)
    try:
        return MatchAnswer.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from exc


async def _read(
    http: httpx.AsyncClient,
    *,
    token: str,
    resource: str,
    subject: dict[str, str],
    fields: list[str],
    purpose: str,
) -> CallAnswer:
    body = {"resource": resource, "subject": subject, "fields": fields, "purpose": purpose}
    response = await _post(http, "/exchange/v1/calls", body, token)
    if response.status_code == 404 and _code(response) == "subject_not_found":
        raise SubjectNotInRegistry()
    if response.status_code != 200:
        raise _refused(response)
    try:
        answer = CallAnswer.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from exc
    missing = [name for name in fields if name not in answer.fields]
    if missing:
        raise UpstreamUnavailable(
            f"data-exchange-svc left out fields asked for: {', '.join(missing)}"
        )
    return answer


async def name_matches(
    http: httpx.AsyncClient, *, token: str, id_number: str, name: str, purpose: str
) -> MatchAnswer:
    return await _match(
        http,
        token=token,
        resource=POPULATION,
        subject={"id_number": id_number},
        claims={"name": name},
        purpose=purpose,
    )


async def read_person(
    http: httpx.AsyncClient, *, token: str, id_number: str, fields: list[str], purpose: str
) -> CallAnswer:
    return await _read(
        http,
        token=token,
        resource=POPULATION,
        subject={"id_number": id_number},
        fields=fields,
        purpose=purpose,
    )


async def representative_matches(
    http: httpx.AsyncClient, *, token: str, credit_code: str, id_number: str, purpose: str
) -> MatchAnswer:
    """Is the person with this ID number the enterprise's registered legal representative?"""
    return await _match(
        http,
        token=token,
        resource=BUSINESS_REGISTRATION,
        subject={"credit_code": credit_code},
        claims={"legal_representative_id_number": id_number},
        purpose=purpose,
    )


async def read_enterprise(
    http: httpx.AsyncClient, *, token: str, credit_code: str, fields: list[str], purpose: str
) -> CallAnswer:
    return await _read(
        http,
        token=token,
        resource=BUSINESS_REGISTRATION,
        subject={"credit_code": credit_code},
        fields=fields,
        purpose=purpose,
    )


async def link_citizen(
    http: httpx.AsyncClient, *, token: str, account_id: str, id_number: str
) -> None:
    """Tell the exchange which registry subject the account is, so that the citizen's consents
    and access log follow her account there (she asserts nothing to the exchange herself)."""
    try:
        response = await http.put(
            f"/exchange/v1/citizen-links/{account_id}",
            json={"id_number": id_number},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("data-exchange-svc could not be reached") from exc
    if response.status_code != 200:
        raise _refused(response)


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
