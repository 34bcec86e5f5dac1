"""How an SMS leaves identity-svc: a seam with two sides.

``HttpSmsSender`` is the real one: it POSTs ``{"to": "<phone>", "text": "<message>"}`` as JSON
to the configured SMS gateway (``IDENTITY_SMS_ENDPOINT``) with ``Authorization: Bearer
<IDENTITY_SMS_API_KEY>``; any 2xx is accepted, anything else is ``sms_unavailable``.
``OutboxSmsSink`` sends nothing: it appends each message as a JSON line to
``<var_dir>/sms-outbox.jsonl``, where tests and developers running the platform locally read
their codes. Settings refuse the sink in production.
"""

import asyncio
import json
from pathlib import Path
from typing import Protocol

import httpx

from identity_svc.settings import IdentitySettings
from servicekit.db import utcnow
from servicekit.problems import UpstreamUnavailable, extension_members


class SmsUnavailable(UpstreamUnavailable):
    code = "sms_unavailable"
    title = "The SMS could not be sent: try again later"
    members = extension_members(
        upstream_status={
            "type": "integer",
            "description": "What the SMS gateway answered",
            "examples": [503],
        }
    )


class SmsSender(Protocol):
    async def send(self, *, to: str, text: str) -> None: ...


class HttpSmsSender:
    def __init__(self, http: httpx.AsyncClient, *, endpoint: str, api_key: str) -> None:
        self._http = http
        self._endpoint = endpoint
        self._api_key = api_key

    async def send(self, *, to: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = await self._http.post(
                self._endpoint, json={"to": to, "text": text}, headers=headers
            )
        except httpx.HTTPError as exc:
            raise SmsUnavailable() from exc
        if not response.is_success:
            raise SmsUnavailable(upstream_status=response.status_code)


class OutboxSmsSink:
    """Development only: the messages land in a file instead of on a phone."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()

    async def send(self, *, to: str, text: str) -> None:
        line = json.dumps(
            {"to": to, "text": text, "sent_at": utcnow().isoformat()}, ensure_ascii=False
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")


def sms_sender_for(settings: IdentitySettings, http: httpx.AsyncClient) -> SmsSender:
    if settings.sms_sender == "http":
        return HttpSmsSender(
            http, endpoint=settings.sms_endpoint, api_key=settings.sms_api_key.get_secret_value()
        )
    return OutboxSmsSink(settings.sms_outbox_path)
