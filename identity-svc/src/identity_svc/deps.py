"""identity-svc's state and the dependencies endpoints read it through: the kit's parts with
settings typed as ``IdentitySettings``, the ``Runtime`` (clock, key store, personal-data cipher,
password hasher, catalog directory, revocation list) and the SMS sender."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from identity_svc.runtime import Runtime
from identity_svc.settings import IdentitySettings
from identity_svc.sms.senders import SmsSender
from servicekit.state import ServiceState, state_of


@dataclass(eq=False, kw_only=True)
class IdentityState(ServiceState):
    settings: IdentitySettings
    runtime: Runtime
    sms_sender: SmsSender


# Each alias reads the state itself rather than through StateDep: a dependency FastAPI resolves
# costs a request some 20 µs.


async def _state(request: Request) -> IdentityState:
    return state_of(request, IdentityState)


async def _settings(request: Request) -> IdentitySettings:
    return state_of(request, IdentityState).settings


async def _runtime(request: Request) -> Runtime:
    return state_of(request, IdentityState).runtime


async def _sms_sender(request: Request) -> SmsSender:
    return state_of(request, IdentityState).sms_sender


StateDep = Annotated[IdentityState, Depends(_state)]
SettingsDep = Annotated[IdentitySettings, Depends(_settings)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
SmsSenderDep = Annotated[SmsSender, Depends(_sms_sender)]
