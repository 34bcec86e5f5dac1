"""A service's own access token: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) at
identity-svc's token endpoint, through the gateway, kept until shortly before it expires.

What a service sends when it acts for itself rather than for a caller (the outbox relay posting
events to subscribers): a token of type ``service`` whose subject is the service's client id.
Concurrent callers share one request for a new token; a refused grant is
``ServiceTokenUnavailable`` (the relay then holds its deliveries without spending attempts)::

    token = ClientCredentials(http, client_id="case-svc", client_secret=secret)
    headers = {"Authorization": f"Bearer {await token()}"}
"""

import asyncio
import time
from collections.abc import Callable

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

#: identity-svc's token endpoint, as the gateway serves it.
TOKEN_PATH = "/identity/v1/token"


class ServiceTokenUnavailable(RuntimeError):
    """identity-svc did not grant a token: unreachable, or the credentials are refused."""


class _Granted(BaseModel):
    access_token: str
    expires_in: int


class ClientCredentials:
    """The service's token, fetched with its client id and secret, renewed ``renew_before``
    seconds before it expires (so that no request carries one that expires in flight)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: SecretStr,
        token_path: str = TOKEN_PATH,
        renew_before_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_path = token_path
        self._renew_before = renew_before_seconds
        self._clock = clock
        self._token: str | None = None
        self._renew_at = float("-inf")
        self._lock = asyncio.Lock()

    async def __call__(self) -> str:
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    def forget(self, token: str | None = None) -> None:
        """Drop the kept token (a callee refused it: expired early, revoked): the next call asks
        for a new one. With ``token``, only if that is still the one kept: a caller refused with
        an old token must not drop the new one another caller fetched meanwhile."""
        if token is None or token == self._token:
            self._token = None

    async def _fetch(self) -> None:
        asked_at = self._clock()
        try:
            response = await self._http.post(
                self._token_path,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret.get_secret_value()),
            )
        except httpx.HTTPError as exc:
            raise ServiceTokenUnavailable("identity-svc could not be reached") from exc
        if response.status_code != 200:
            # The problem's code only: the body of a refusal says nothing worth logging.
            raise ServiceTokenUnavailable(f"the token endpoint answered {response.status_code}")
        try:
            granted = _Granted.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServiceTokenUnavailable("the token endpoint answered in another shape") from exc
        self._token = granted.access_token
        self._renew_at = asked_at + max(granted.expires_in - self._renew_before, 0.0)
