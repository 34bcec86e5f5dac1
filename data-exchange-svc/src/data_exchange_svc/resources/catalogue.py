"""The resource catalogue as each process holds it: every resource with its fields, an immutable
snapshot read from the database at most once per ``catalogue_refresh_seconds``, instead of two
queries on every match and call.

Why a time to live and not a version check: the catalogue changes only when the seed brings it
in line with ``specs.toml``, a deployment step run in a process of its own. A version check
would cost a database round trip on every call (a call now costs about two) to learn of a
change that happens at deployments. So a change made by another process is seen within
``catalogue_refresh_seconds`` (10 s by default): until then a process answers by the previous
catalogue. Grants still decide who reads what, and fields are never removed, so the window can
only delay a change of classification or sensitivity, by at most that long. A write through
this process calls ``invalidate``: its next use reads the database again.

The snapshot is made in a session of its own, never the request's: a refused request's
rollback cannot touch it, and concurrent requests share plain frozen values.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.models import DataResource
from data_exchange_svc.resources import repository


@dataclass(frozen=True, slots=True)
class CataloguedField:
    """A field of a resource as the catalogue states it (the columns of ``ResourceField``)."""

    name: str
    label: str
    sensitivity: str
    matchable: bool
    position: int
    value_type: str
    choices: tuple[str, ...] | None
    nullable: bool


@dataclass(frozen=True, slots=True)
class CataloguedResource:
    """A resource as the catalogue states it (the columns of ``DataResource``), its fields in
    order."""

    code: str
    name: str
    owner_department_type: str
    classification: str
    hosting: str
    description: str | None
    subject_kinds: tuple[str, ...]
    rows_per_subject: str
    fields: tuple[CataloguedField, ...]
    _by_name: dict[str, CataloguedField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    @property
    def fields_by_name(self) -> Mapping[str, CataloguedField]:
        return self._by_name

    @classmethod
    def of(cls, resource: DataResource) -> "CataloguedResource":
        return cls(
            code=resource.code,
            name=resource.name,
            owner_department_type=resource.owner_department_type,
            classification=resource.classification,
            hosting=resource.hosting,
            description=resource.description,
            subject_kinds=tuple(resource.subject_kinds),
            rows_per_subject=resource.rows_per_subject,
            fields=tuple(
                CataloguedField(
                    name=f.name,
                    label=f.label,
                    sensitivity=f.sensitivity,
                    matchable=f.matchable,
                    position=f.position,
                    value_type=f.value_type,
                    choices=tuple(f.choices) if f.choices is not None else None,
                    nullable=f.nullable,
                )
                for f in resource.fields
            ),
        )


class Catalogue:
    """The process's snapshot of the catalogue, refreshed when older than ``refresh_seconds``
    (one refresh at a time; the requests that need it meanwhile wait for it)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._resources: dict[str, CataloguedResource] = {}
        self._loaded_at: float | None = None
        #: Bumped by every invalidation: a read that began before one is used once, not kept.
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Read the catalogue again at its next use (after a write through this process)."""
        self._generation += 1
        self._loaded_at = None

    def _fresh(self) -> bool:
        return (
            self._loaded_at is not None and self._clock() - self._loaded_at < self._refresh_seconds
        )

    async def _snapshot(self) -> dict[str, CataloguedResource]:
        if self._fresh():
            return self._resources
        async with self._lock:
            if not self._fresh():
                started, generation = self._clock(), self._generation
                async with self._sessionmaker() as session:
                    loaded = await repository.everything(session)
                resources = {r.code: CataloguedResource.of(r) for r in loaded}
                if generation != self._generation:
                    return resources
                self._resources, self._loaded_at = resources, started
        return self._resources

    async def resource(self, code: str) -> CataloguedResource | None:
        return (await self._snapshot()).get(code)
