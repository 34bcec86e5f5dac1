"""case-svc, as another instance of it needs it: an application filed in the instance that
serves its handling department's region, through the gateway, which routes it there by
``X-Region-Code``.

An instance that received an application for a department of a region it does not serve
files it where it belongs, with the caller's own token, and answers what that instance
answered: the case, or its problem when it is one the submission documents (anything else is a
503). The forwarded request carries a key of its own, derived from the caller's
``Idempotency-Key``, so that a retry reaches the same case there, and so that where one instance
serves every region the forwarded request is not mistaken for the one that forwarded it.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

import httpx

from servicekit.http import raise_for_problem
from servicekit.idempotency import idempotency_key
from servicekit.problems import DomainError, UpstreamUnavailable

CASES_PATH = "/cases/v1/cases"


def placed_key(idempotency_key_header: str) -> str:
    """The key the forwarded request carries: one per key of the caller's (as the kit reads a
    key: quoted or not, the same)."""
    key = idempotency_key(idempotency_key_header)
    return "placed:" + hashlib.sha256(key.encode()).hexdigest()[:40]


async def file_where_it_belongs(
    http: httpx.AsyncClient,
    *,
    token: str,
    body: dict[str, Any],
    key_header: str | None,
    region_code: str,
    passed_on: Iterable[type[DomainError]],
    path: str = CASES_PATH,
) -> httpx.Response:
    """The answer of the instance serving ``region_code`` to the application ``body`` (or to
    the draft application opened by ``POST path``, which takes no Idempotency-Key)."""
    headers = {"Authorization": f"Bearer {token}", "X-Region-Code": region_code}
    if key_header is not None:
        headers["Idempotency-Key"] = placed_key(key_header)
    try:
        response = await http.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("the case-svc of its region could not be reached") from exc
    raise_for_problem(response, upstream="case-svc", passed_on=passed_on)
    if response.status_code != 201:
        raise UpstreamUnavailable(f"the case-svc of its region answered {response.status_code}")
    return response
