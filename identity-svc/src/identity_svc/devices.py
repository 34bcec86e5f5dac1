"""Where a request comes from, as the list of sessions shows it: the client's address and its
``User-Agent``. Behind the gateway the peer is the gateway itself, which appends the client's
address to ``X-Forwarded-For``: that last entry is believed from trusted proxies only."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from identity_svc.deps import IdentityState
from servicekit.state import state_of

USER_AGENT_MAX = 300
ADDRESS_MAX = 64


@dataclass(frozen=True)
class Device:
    user_agent: str | None
    client_address: str | None


def device_of(request: Request) -> Device:
    peer = request.client.host if request.client else None
    address = peer
    if peer in state_of(request, IdentityState).settings.trusted_proxies:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        address = last or peer
    user_agent = request.headers.get("user-agent")
    return Device(
        user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        client_address=address[:ADDRESS_MAX] if address else None,
    )


async def _device(request: Request) -> Device:
    # A coroutine, so that FastAPI does not run it in a worker thread.
    return device_of(request)


DeviceDep = Annotated[Device, Depends(_device)]
