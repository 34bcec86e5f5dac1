"""data-exchange-svc's population registry, as identity-svc needs it: does a name match an ID
number (verify without sharing), and a few fields of a person (registered region, face
template), each call under identity-svc's own service token and a stated purpose."""

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from servicekit.problems import UpstreamUnavailable

POPULATION = "population"


class MatchAnswer(BaseModel):
    match: bool
    call_id: str


class CallAnswer(BaseModel):
    call_id: str
    resource: str
    fields: dict[str, Any]


class SubjectNotInRegistry(Exception):
    """The registry holds no such person (only ``calls`` says so; ``matches`` answers false)."""


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


async def name_matches(
    http: httpx.AsyncClient, *, token: str, id_number: str, name: str, purpose: str
) -> MatchAnswer:
    response = await _post(
        http,
        "/exchange/v1/matches",
        {
            "resource": POPULATION,
            "subject": {"id_number": id_number},
            "claims": {"name": name},
            "purpose": purpose,
        },
        token,
    )
    if response.status_code != 200:
        raise _refused(response)
    try:
        return MatchAnswer.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("data-exchange-svc answered in an unexpected shape") from exc


async def read_person(
    http: httpx.AsyncClient, *, token: str, id_number: str, fields: list[str], purpose: str
) -> CallAnswer:
    response = await _post(
        http,
        "/exchange/v1/calls",
        {
            "resource": POPULATION,
            "subject": {"id_number": id_number},
            "fields": fields,
            "purpose": purpose,
        },
        token,
    )
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
            "data-exchange-svc left out fields asked for", missing_fields=missing
        )
    return answer


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
