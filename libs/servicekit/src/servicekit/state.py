"""What a service holds for its whole life, in one typed object, reached one way.

``build_app`` builds the kit's parts into a ``ServiceState``: the settings, the database, the
pooled HTTP client (through the gateway), the token verifier, the cursor signer and the
idempotency policy. A service that holds more subclasses it with its own members and makes its
instance in its lifespan hook from the kit's (``CaseState.over(kit, clock=utcnow)``), which
``build_app`` then installs for the app's life. Only dependencies read it: the kit's
(``SessionDep``, ``PrincipalDep``, ``CursorsDep``, ``HttpDep`` ...) and each service's
``deps.py``, so that no endpoint reaches into ``request.app.state``::

    @dataclass(eq=False, kw_only=True)
    class CaseState(ServiceState):
        settings: CaseSettings
        clock: Clock

    async def _clock(request: Request) -> Clock:
        return state_of(request, CaseState).clock

    ClockDep = Annotated[Clock, Depends(_clock)]

Each alias reads the state from the request itself rather than through a ``StateDep``
sub-dependency: every dependency FastAPI resolves costs a request some 20 µs.

This module is the bottom of the kit: the modules whose parts it holds (``db``, ``auth``,
``pagination``, ``idempotency``) read the state through it, so it names their types for the
type checker only.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Self, TypeVar

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    import httpx

    from servicekit.auth import TokenVerifier
    from servicekit.db import Database
    from servicekit.idempotency import IdempotencyPolicy
    from servicekit.pagination import Cursors
    from servicekit.settings import ServiceSettings


@dataclasses.dataclass(eq=False, kw_only=True)
class ServiceState:
    """The kit's parts of every service. A subclass may narrow ``settings`` to the service's
    own settings class: it is the object the service gave ``build_app``."""

    settings: ServiceSettings
    database: Database
    http: httpx.AsyncClient
    token_verifier: TokenVerifier
    cursors: Cursors
    #: The service's table of ``Idempotency-Key`` records (None: it takes no keys).
    idempotency: IdempotencyPolicy | None = None

    @classmethod
    def over(cls, kit: ServiceState, **own: Any) -> Self:
        """This service's state: the kit's parts, and its own members."""
        parts = {field.name: getattr(kit, field.name) for field in dataclasses.fields(ServiceState)}
        return cls(**parts, **own)


StateT = TypeVar("StateT", bound=ServiceState)


def install_state(app: FastAPI, state: ServiceState) -> None:
    """Make ``state`` the app's (``build_app`` does, for the kit's and the service's own)."""
    app.state.service = state


def app_state(app: FastAPI, kind: type[StateT]) -> StateT:
    """The app's state, as the service's own state class (for lifespans, tests, commands)."""
    state = getattr(app.state, "service", None)
    if not isinstance(state, kind):
        raise RuntimeError(f"the app holds no {kind.__name__}: is it started?")
    return state


def state_of(request: Request, kind: type[StateT]) -> StateT:
    """The state of the app serving ``request``, as the service's own state class."""
    return app_state(request.app, kind)
