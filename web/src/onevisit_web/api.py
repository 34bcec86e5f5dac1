"""The public API, as the pages call it: through the gateway, with the signed-in person's own
token, on behalf of her browser (``servicekit.context.on_behalf_of``: the gateway and identity-svc
count her sign-ins and rate limits by her address). A problem answer becomes ``ApiProblem``,
which the pages show in words; the page server has no other way in."""

from dataclasses import dataclass, field
from typing import Any

import httpx

from servicekit.problems import UpstreamUnavailable


class ApiProblem(Exception):
    """The platform refused or failed a call: its status, its stable code, the whole body."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


@dataclass
class Answer:
    status: int
    body: Any
    headers: httpx.Headers = field(default_factory=httpx.Headers)

    @property
    def etag(self) -> str | None:
        etag: str | None = self.headers.get("etag")
        return etag


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> Answer:
    """One call through the gateway (``options``: httpx's ``params``, ``json``, ``data``,
    ``files``). Success answers its JSON (None for an empty body); anything else raises
    ``ApiProblem``, or ``UpstreamUnavailable`` when the gateway cannot be reached."""
    sent = dict(headers or {})
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    try:
        response = await http.request(method, path, headers=sent, **options)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("the platform's gateway could not be reached") from exc
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = None
    if response.is_success:
        return Answer(response.status_code, body, response.headers)
    problem = body if isinstance(body, dict) else {}
    raise ApiProblem(
        response.status_code,
        str(problem.get("code") or f"http_{response.status_code}"),
        str(problem.get("detail") or ""),
        problem,
    )
