"""Async SQLAlchemy 2: the engine and sessionmaker, built in the lifespan, and the request's
transaction.

The request owns the transaction: ``SessionDep`` opens one session per request and commits it
when the endpoint returns, before the response is sent (a ``scope="function"`` dependency), or
rolls it back on error. Services and repositories never commit. Background work uses
``async with database.sessionmaker.begin():``.  An endpoint that reads one row and writes
nothing may take ``ReadSessionDep`` instead: no transaction at all.
"""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Request
from opentelemetry.trace import Tracer
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from servicekit.problems import DomainError
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, state_of
from servicekit.tracing import trace_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """Each service's own metadata, under the shared naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: store UTC-aware times")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: PostgreSQL's ``plan_cache_mode``: ``auto`` (its own choice: after five runs of a prepared
#: statement, a generic plan if it looks no worse), or ``force_custom_plan`` (every run planned
#: for its parameters). A list whose best plan depends on its parameters (a time, a filter that
#: matches few rows or many) can go from milliseconds to tens of them on a generic plan.
PlanCacheMode = Literal["auto", "force_custom_plan"]


def create_engine(url: str, *, plan_cache_mode: PlanCacheMode = "auto") -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = (
        {"server_settings": {"plan_cache_mode": plan_cache_mode}}
        if plan_cache_mode != "auto"
        else {}
    )
    engine = create_async_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args)
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling without a round trip: a pooled connection the server
    has closed (a restart, ``pg_terminate_backend``, an idle timeout) is known to the driver as
    soon as the event loop has read the close, so the pool is told to replace it at checkout.

    SQLAlchemy's ``pool_pre_ping`` would ask the server instead, and with asyncpg that costs
    three round trips (``BEGIN``, ``;``, ``ROLLBACK``) on every checkout: a tenth of what a
    short request costs. What a ping would catch and this cannot (a connection lost without
    the server's close reaching us) fails that one statement as a disconnect, after which
    SQLAlchemy replaces every pooled connection older than it.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


class DatabaseUnavailable(DomainError):
    """The database could not be reached, or dropped the connection mid-request: a transient
    state (a restart, a failover, a full pool), never the client's fault. Nothing the request
    did was committed, so the client (and the gateway, for idempotent and keyed requests) may
    retry after ``Retry-After``."""

    status = 503
    code = "database_unavailable"
    title = "The database is unavailable; retry shortly"


#: Seconds a client is asked to wait before retrying after ``database_unavailable``.
DATABASE_RETRY_AFTER_SECONDS = 1


def is_transient_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database was out of reach rather than that the request was
    wrong: a lost or refused connection, a server shutting down, an exhausted pool."""
    if isinstance(exc, PoolTimeout | DisconnectionError | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # Operational errors are the server's state (shutdown, lost connection, a locked
        # SQLite file); interface errors a connection the driver no longer has.
        return isinstance(exc, OperationalError | InterfaceError)
    return False


def insert_for(bind: AsyncSession | Dialect, table: Any) -> Any:
    """An INSERT with the backend's ``ON CONFLICT`` clause available (both spell it alike)."""
    dialect = bind.get_bind().dialect if isinstance(bind, AsyncSession) else bind
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"the services run on PostgreSQL or SQLite, not {dialect.name}")


class Database:
    """The engine and sessionmaker of one service, owned by its lifespan."""

    def __init__(
        self, url: str, *, plan_cache_mode: PlanCacheMode = "auto", tracer: Tracer | None = None
    ) -> None:
        """``tracer``: the process's, when tracing is on: a client span for each statement."""
        self.engine = create_engine(url, plan_cache_mode=plan_cache_mode)
        if tracer is not None:
            trace_engine(self.engine, tracer)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def database_of(request: Request) -> Database:
    return state_of(request, ServiceState).database


async def _database(request: Request) -> Database:
    return database_of(request)


#: The service's database, for what opens sessions of its own (a read that needs no
#: transaction, work after the request's commit).
DatabaseDep = Annotated[Database, Depends(_database)]


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with database_of(request).sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with database_of(request).sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


#: For an endpoint that only reads, and a single statement at that (one row the answer is
#: made of): the statement runs outside a transaction, each its own snapshot, which costs it
#: no BEGIN and no COMMIT (on PostgreSQL two round trips of three). Never for a write: what it
#: writes is committed at once, whatever happens to the request after. Several reads that
#: must agree with each other take ``SessionDep``.
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_seed(
    seed: Callable[[AsyncSession, SettingsT], Awaitable[None]], settings: SettingsT
) -> None:
    """Run a service's idempotent seed in one transaction (``python -m <pkg>.seed``)."""

    async def main() -> None:
        database = Database(settings.database_url)
        try:
            async with database.sessionmaker.begin() as session:
                await seed(session, settings)
        finally:
            await database.dispose()

    asyncio.run(main())
