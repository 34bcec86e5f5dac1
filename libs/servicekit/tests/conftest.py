"""Fixtures of the kit's own tests: an empty database for each test, on SQLite and, when
``ONEVISIT_TEST_POSTGRES_URL`` names a server, on PostgreSQL (``database_backend`` is the
plugin's), for tests that create the tables they need with ``metadata.create_all``."""

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.testing import POSTGRES_ENV


async def _create_or_drop_postgres_database(name: str, *, create: bool) -> None:
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            if create:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _kit_postgres_url() -> AsyncIterator[str | None]:
    """One PostgreSQL database for the run's kit tests, dropped at the end."""
    if not os.environ.get(POSTGRES_ENV):
        yield None
        return
    name = f"ov_test_kit_{secrets.token_hex(4)}"
    await _create_or_drop_postgres_database(name, create=True)
    try:
        yield make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
    finally:
        await _create_or_drop_postgres_database(name, create=False)


@pytest_asyncio.fixture(loop_scope="session")
async def blank_database_url(
    database_backend: str, _kit_postgres_url: str | None, tmp_path: Path
) -> str:
    """The URL of an empty database: a new SQLite file, or the run's PostgreSQL database with
    its schema emptied (faster than a database per test)."""
    if database_backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}"
    assert _kit_postgres_url is not None
    engine = create_async_engine(_kit_postgres_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return _kit_postgres_url
