"""rating-svc's state and the dependencies endpoints read it through: the settings, the clock
rating windows and deadlines are read from (tests hold it still), and the outbox."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from rating_svc.settings import RatingSettings
from servicekit.events import Outbox
from servicekit.state import ServiceState, state_of

Clock = Callable[[], dt.datetime]


@dataclass(eq=False, kw_only=True)
class RatingState(ServiceState):
    settings: RatingSettings
    clock: Clock
    #: Where the events of each change are written (``rating_svc.events``).
    outbox: Outbox


# Each alias reads the state itself rather than through a sub-dependency: a dependency FastAPI
# resolves costs a request some 20 µs.


async def _settings(request: Request) -> RatingSettings:
    return state_of(request, RatingState).settings


async def _now(request: Request) -> dt.datetime:
    return state_of(request, RatingState).clock()


async def _outbox(request: Request) -> Outbox:
    return state_of(request, RatingState).outbox


OutboxDep = Annotated[Outbox, Depends(_outbox)]
SettingsDep = Annotated[RatingSettings, Depends(_settings)]
#: The time of the request, on the service's clock.
NowDep = Annotated[dt.datetime, Depends(_now)]
