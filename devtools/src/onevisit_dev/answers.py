"""What the end-to-end tests and the benchmarks ask of the platform, written once: how to read an
answer, the texts its development SMS sender wrote, and how a citizen registers."""

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

#: The gateway and identity-svc poll the revocation list every 2 s by default; a generous
#: bound for two shared cores (the bound of a wait, not a timing).
REVOCATION_WITHIN_SECONDS = 15.0
#: case-svc's relay posts an event at its commit, retrying with backoff: a generous bound for
#: an invitation to reach rating-svc on two shared cores (the bound of a wait, not a timing).
EVENT_WITHIN_SECONDS = 30.0
#: How many times a call refused with 429 for the pace of calls (a rate limit of the gateway,
#: identity-svc's interval between texts) is sent again, after the ``Retry-After`` it names:
#: the tests share one client address.
RATE_LIMITED_RETRIES = 20
#: The 429s a later try gets past. A sign-in or face check slowed after wrong attempts
#: (``login_throttled``, ``too_many_attempts``) is the answer to what was sent: returned.
PACE_LIMITS = frozenset({"rate_limited", "sms_code_throttled"})
#: The code in identity-svc's code text (``identity_svc.sms.service.code_text``).
_CODE_IN_TEXT = re.compile(r"验证码是(\d{6})")


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


def invitation_to_rate(
    gateway: httpx.Client, token: str, case_no: str, kind: str = "case"
) -> dict[str, Any] | None:
    """The applicant's invitation to rate ``case_no`` once it has arrived (the events that
    bring them are delivered after the change commits); None if it did not, for the assert."""
    deadline = time.monotonic() + EVENT_WITHIN_SECONDS
    while True:
        answer = gateway.get("/ratings/v1/invitations", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        for invitation in answer.json()["items"]:
            if invitation["case_no"] == case_no and invitation["kind"] == kind:
                found: dict[str, Any] = invitation
                return found
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def sms_texts(var_dir: Path, phone: str) -> list[str]:
    """The texts the platform's development SMS sender wrote for the phone, oldest first (it
    appends ``{"to": ..., "text": ...}`` lines to ``<var_dir>/sms-outbox.jsonl``)."""
    outbox = var_dir / "sms-outbox.jsonl"
    if not outbox.exists():
        return []
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    return [line["text"] for line in lines if line["to"] == phone]


def sms_code(var_dir: Path, phone: str) -> str:
    """The code of the latest code texted to the phone (``POST /identity/v1/sms-codes``)."""
    codes = [
        found.group(1)
        for text in sms_texts(var_dir, phone)
        if (found := _CODE_IN_TEXT.search(text))
    ]
    if not codes:
        raise AssertionError(f"no code was texted to {phone[:3]}…")
    return codes[-1]


def register_citizen(
    gateway: httpx.Client, var_dir: Path, phone: str, password: str
) -> dict[str, Any]:
    """Register a citizen through the gateway as the app does: a code texted to the phone,
    then the phone, the password and the code. The account as the 201 answered it (``id``,
    ``phone_masked``, ``loa``)."""
    asked = send(gateway, "POST", "/identity/v1/sms-codes", json={"phone": phone})
    assert asked.status_code == 202, asked.text
    body = {"phone": phone, "password": password, "code": sms_code(var_dir, phone)}
    registered = send(gateway, "POST", "/identity/v1/citizens", json=body)
    assert registered.status_code == 201, registered.text
    account: dict[str, Any] = registered.json()
    return account


def send(gateway: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, sent again while a pace limit refuses it (after the wait it names)."""
    for _ in range(RATE_LIMITED_RETRIES):
        response = gateway.request(method, url, **kwargs)
        if response.status_code != 429 or response.json().get("code") not in PACE_LIMITS:
            return response
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))
    return response
