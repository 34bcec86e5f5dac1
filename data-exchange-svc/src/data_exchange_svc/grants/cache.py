"""The active grants of each (consumer, resource), kept by each process for a few seconds so that
a call does not query them every time.

How fresh: a grant approved or revoked through this process takes effect at once. The workflow
drops the whole cache when it decides, and again when that decision commits (a call that read
the grants in between, before the commit, keeps its answer for itself and does not store it).
A decision made through another process is seen here within ``grant_cache_seconds`` (5 s by
default): the bound to state in any promise about revocation across processes. Expiry needs no
freshness: every use checks ``expires_at`` against the time of the call.
"""

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from data_exchange_svc.grants import repository
from data_exchange_svc.models import SharingGrant

#: (consumer, resource code)
GrantScope = tuple[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class ActiveGrant:
    """What a call's decision needs of an approved grant: a frozen copy, shared by requests."""

    id: uuid.UUID
    fields: frozenset[str]
    purposes: frozenset[str]
    expires_at: dt.datetime | None
    rate_per_minute: int | None
    rate_burst: int | None
    #: The significant prefix of the region whose subjects it covers; None: everywhere.
    region: str | None

    @classmethod
    def of(cls, grant: SharingGrant) -> "ActiveGrant":
        return cls(
            id=grant.id,
            fields=frozenset(grant.fields),
            purposes=frozenset(grant.purposes),
            expires_at=grant.expires_at,
            rate_per_minute=grant.rate_per_minute,
            rate_burst=grant.rate_burst,
            region=grant.region,
        )

    def live_at(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    grants: tuple[ActiveGrant, ...]
    loaded_at: float


class ActiveGrants:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_scopes: int = 10_000,
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_scopes = max_scopes
        self._entries: dict[GrantScope, _Entry] = {}
        #: Bumped by every invalidation: a read that began before one is not stored.
        self._generation = 0

    async def of(
        self, session: AsyncSession, *, consumer: str, resource_code: str, now: dt.datetime
    ) -> list[ActiveGrant]:
        """The consumer's grants on the resource that are active at ``now``."""
        scope = (consumer, resource_code)
        entry = self._entries.get(scope)
        if entry is None or self._clock() - entry.loaded_at >= self._ttl_seconds:
            started, generation = self._clock(), self._generation
            rows = await repository.active_for(
                session, consumer=consumer, resource_code=resource_code, now=now
            )
            entry = _Entry(tuple(ActiveGrant.of(row) for row in rows), started)
            if generation == self._generation:
                if len(self._entries) >= self._max_scopes:
                    self._entries.clear()
                self._entries[scope] = entry
        return [grant for grant in entry.grants if grant.live_at(now)]

    def invalidate(self) -> None:
        self._generation += 1
        self._entries.clear()

    def invalidate_on_commit(self, session: AsyncSession) -> None:
        """Forget every cached grant now, and again once ``session`` commits the change it is
        making to a grant: until then other requests may still read the grant as it was."""
        self.invalidate()

        def committed(_: Session) -> None:
            self.invalidate()

        event.listen(session.sync_session, "after_commit", committed, once=True)
