"""Filing what an offer files, as her: the steps a citizen takes by hand in the app to file a
draft (open it, consent to the reads that fill it, fill it, submit it), taken through the
gateway with her own bearer token, never identity-svc's, so that case-svc and the exchange see
her as the caller and record her consents as hers.

A plain function over an ``httpx.AsyncClient`` (the gateway's), driven by
``identity_svc.offers.service.confirm``. A confirmation tried again goes on with the draft the
first one opened (``draft_no``), and its submission carries the same ``Idempotency-Key``, so
nothing is filed twice.
"""

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from identity_svc.offers.rules import Filing, FilingKind
from servicekit.auth import InsufficientAssurance, TokenExpired, TokenRevoked
from servicekit.http import raise_for_problem
from servicekit.problems import DomainError, UpstreamUnavailable


@dataclass(frozen=True)
class DraftRoutes:
    """Where case-svc drafts one kind of filing, and what its answers are called."""

    #: ``POST`` opens a draft; ``/{no}`` reads it, ``/{no}/prefill`` fills it,
    #: ``/{no}/submission`` files it.
    path: str
    #: The opening answer's member holding the draft's number.
    number: str
    #: The problem code of a draft submitted already (by her by hand, or by a confirmation
    #: whose answer was lost), and its member naming what was filed.
    submitted_code: str
    submitted_as: str


ROUTES: dict[FilingKind, DraftRoutes] = {
    "bundle": DraftRoutes(
        "/cases/v1/bundle-drafts", "application_no", "bundle_draft_submitted", "application_no"
    ),
    "item": DraftRoutes("/cases/v1/drafts", "draft_no", "draft_filed", "case_no"),
}

#: Her own problems, passed on as they are: her face window lapsed on the way, or her token.
PASSED_ON: tuple[type[DomainError], ...] = (InsufficientAssurance, TokenExpired, TokenRevoked)


@dataclass(frozen=True)
class Filed:
    """Filed: the bundle application's number (or the case's) and each case filed."""

    application_no: str
    children: list[dict[str, Any]]


@dataclass(frozen=True)
class NeedsInput:
    """case-svc refused the submission for something she must still type: the draft waits for
    her in the app."""

    draft_no: str
    draft_path: str


def _opening_body(files: Filing, answers: dict[str, Any]) -> dict[str, Any]:
    if files.kind == "bundle":
        return {"bundle_code": files.code, "answers": answers}
    return {"item_code": files.code}


async def _call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    token: str,
    json: dict[str, Any] | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    try:
        return await http.request(method, path, json=json, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{path} could not be reached") from exc


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamUnavailable("case-svc answered in an unexpected shape") from exc
    if not isinstance(body, dict):
        raise UpstreamUnavailable("case-svc answered in an unexpected shape")
    return body


def _filed(kind: FilingKind, answer: dict[str, Any]) -> Filed:
    number = answer.get("application_no" if kind == "bundle" else "case_no")
    children = answer.get("children") if kind == "bundle" else [answer]
    if not isinstance(number, str) or not isinstance(children, list):
        raise UpstreamUnavailable("case-svc answered the submission in an unexpected shape")
    return Filed(number, [child for child in children if isinstance(child, dict)])


async def file_for_her(
    http: httpx.AsyncClient,
    *,
    token: str,
    files: Filing,
    answers: dict[str, Any],
    draft_no: str | None,
    key: str,
    consents_until: dt.datetime,
    draft_opened: Callable[[str], Awaitable[str]],
) -> Filed | NeedsInput:
    """Open a draft of what ``files`` names (or go on with ``draft_no``), give each consent it
    asks for until ``consents_until``, fill it, and submit it with ``key``. ``draft_opened`` is
    awaited with a new draft's number before anything else is asked, to keep it; it answers the
    draft to go on with (another confirmation's, kept first, wins). A service out of reach, or a
    refusal of anything but her own, is ``UpstreamUnavailable``."""
    routes = ROUTES[files.kind]
    draft: dict[str, Any] = {}
    if draft_no is None:
        opened = await _call(
            http, "POST", routes.path, token=token, json=_opening_body(files, answers)
        )
        raise_for_problem(opened, upstream="case-svc", passed_on=PASSED_ON)
        draft = _json(opened)
        number = draft.get(routes.number)
        if not isinstance(number, str):
            raise UpstreamUnavailable("case-svc answered the opening in an unexpected shape")
        draft_no = await draft_opened(number)
        if draft_no != number:
            draft = {}  # another confirmation's draft was kept first: go on with that one
    submitted = False
    if not draft:
        read = await _call(http, "GET", f"{routes.path}/{draft_no}", token=token)
        submitted = read.status_code == 409 and _code(read) == routes.submitted_code
        if not submitted:
            raise_for_problem(read, upstream="case-svc", passed_on=PASSED_ON)
        draft = {} if submitted else _json(read)
    if not submitted:
        for asked in draft.get("consents_to_fill", []):
            consent = {
                name: asked.get(name)
                for name in ("consumer", "resource", "fields", "purpose", "case_id")
            }
            consent["expires_at"] = consents_until.isoformat()
            given = await _call(http, "POST", "/exchange/v1/me/consents", token=token, json=consent)
            raise_for_problem(given, upstream="data-exchange-svc", passed_on=PASSED_ON)
        filled = await _call(http, "POST", f"{routes.path}/{draft_no}/prefill", token=token)
        raise_for_problem(filled, upstream="case-svc", passed_on=PASSED_ON)
    submission = await _call(
        http, "POST", f"{routes.path}/{draft_no}/submission", token=token, key=key
    )
    if submission.status_code == 422:
        return NeedsInput(draft_no, f"{routes.path}/{draft_no}")
    if submission.status_code == 409 and _code(submission) == routes.submitted_code:
        # Submitted already, by her in the app: what it was filed as.
        return Filed(str(_json(submission).get(routes.submitted_as, draft_no)), [])
    raise_for_problem(submission, upstream="case-svc", passed_on=PASSED_ON)
    return _filed(files.kind, _json(submission))


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None
