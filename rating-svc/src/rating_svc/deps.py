"""rating-svc's state and the dependencies endpoints read it through. It holds nothing of its
own: its state is the kit's, whose settings are the service's ``RatingSettings``."""

from typing import Annotated

from fastapi import Depends, Request

from rating_svc.settings import RatingSettings
from servicekit.state import ServiceState, state_of


async def _state(request: Request) -> ServiceState:
    return state_of(request, ServiceState)


async def _settings(request: Request) -> RatingSettings:
    settings = state_of(request, ServiceState).settings
    if not isinstance(settings, RatingSettings):
        raise RuntimeError("rating-svc's app is built with RatingSettings")
    return settings


StateDep = Annotated[ServiceState, Depends(_state)]
SettingsDep = Annotated[RatingSettings, Depends(_settings)]
