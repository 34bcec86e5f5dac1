"""Where a request comes from, as the list of sessions shows it and login throttling counts it:
the client's address as the gateway established and signed it (``servicekit.forwarding``: a
direct caller is its own peer, whatever headers it sends) and its ``User-Agent``."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from servicekit.forwarding import client_address

USER_AGENT_MAX = 300
ADDRESS_MAX = 64


@dataclass(frozen=True)
class Device:
    user_agent: str | None
    client_address: str | None


def device_of(request: Request) -> Device:
    address = client_address(request)
    user_agent = request.headers.get("user-agent")
    return Device(
        user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        client_address=address[:ADDRESS_MAX] if address else None,
    )


async def _device(request: Request) -> Device:
    # A coroutine, so that FastAPI does not run it in a worker thread.
    return device_of(request)


DeviceDep = Annotated[Device, Depends(_device)]
