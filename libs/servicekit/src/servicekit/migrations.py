"""The Alembic env helper: each service's ``migrations/env.py`` is two lines that call
``run_migrations(metadata, url)``.

Given a connection in ``config.attributes["connection"]`` (the test fixtures do this from inside
their event loop) it migrates on that connection; otherwise it opens the service's async engine.
SQLite gets batch mode, so that ALTERs work on both backends.
"""

import asyncio
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.db import UTCDateTime, create_engine


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    # UTCDateTime converts in Python; in the schema it is exactly DateTime(timezone=True).
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_async(url: str, metadata: MetaData) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, metadata)
    finally:
        await engine.dispose()


def run_migrations(metadata: MetaData, url: str) -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, metadata)
        return
    asyncio.run(_migrate_async(url, metadata))


def alembic_config(service_dir: Path) -> Config:
    """The Alembic config of a service, found from its directory (where alembic.ini lives)."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    return config


async def upgrade_to_head(connection: AsyncConnection, service_dir: Path) -> None:
    config = alembic_config(service_dir)

    def _upgrade(sync_connection: Connection) -> None:
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    await connection.run_sync(_upgrade)
