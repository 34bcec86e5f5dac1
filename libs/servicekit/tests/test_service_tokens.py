"""A service's own token: fetched once and kept; forgotten when a callee refuses it, but only
if it is still the one kept."""

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from servicekit.service_tokens import ClientCredentials


def _token_endpoint() -> tuple[FastAPI, list[str]]:
    granted: list[str] = []
    app = FastAPI()

    @app.post("/identity/v1/token")
    async def token() -> dict[str, object]:
        granted.append(f"token-{len(granted) + 1}")
        return {"access_token": granted[-1], "token_type": "Bearer", "expires_in": 600}

    return app, granted


async def test_a_refused_token_is_forgotten_and_the_next_call_fetches_a_new_one() -> None:
    app, granted = _token_endpoint()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        token = ClientCredentials(http, client_id="case-svc", client_secret=SecretStr("s"))
        first = await token()
        assert await token() == first
        token.forget(first)
        second = await token()
        assert (first, second) == ("token-1", "token-2")
        # A caller refused with the old token does not drop the new one.
        token.forget(first)
        assert await token() == second
        assert granted == ["token-1", "token-2"]
