"""What the end-to-end tests ask of an answer from the platform, written once."""

import time
from typing import Any

import httpx

#: The gateway and identity-svc poll the revocation list every 2 s by default; a generous
#: bound for two shared cores (the bound of a wait, not a timing).
REVOCATION_WITHIN_SECONDS = 15.0


def bearer(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header of a token; none without one."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem document of an answer that must be ``status`` with ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def refused_within(gateway: httpx.Client, method: str, path: str, token: str) -> httpx.Response:
    """The gateway's answer once it refuses the token (or its last answer, for the assert)."""
    deadline = time.monotonic() + REVOCATION_WITHIN_SECONDS
    while True:
        answer = gateway.request(method, path, headers=bearer(token))
        if answer.status_code == 401 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
