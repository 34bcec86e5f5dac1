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
#: How many times a request the gateway's rate limit refused (429 ``rate_limited``) is sent
#: again, after the ``Retry-After`` it names: the tests share one client address.
RATE_LIMITED_RETRIES = 20
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
    asked = _past_rate_limits(gateway, "/identity/v1/sms-codes", {"phone": phone})
    assert asked.status_code == 202, asked.text
    body = {"phone": phone, "password": password, "code": sms_code(var_dir, phone)}
    registered = _past_rate_limits(gateway, "/identity/v1/citizens", body)
    assert registered.status_code == 201, registered.text
    account: dict[str, Any] = registered.json()
    return account


def _past_rate_limits(gateway: httpx.Client, path: str, body: dict[str, str]) -> httpx.Response:
    """A POST, sent again while the gateway's rate limit refuses it."""
    for _ in range(RATE_LIMITED_RETRIES):
        response = gateway.post(path, json=body)
        limited = response.status_code == 429 and response.json().get("code") == "rate_limited"
        if not limited:
            return response
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))
    return response
