"""The Alembic env helper: each service's ``migrations/env.py`` is two lines that call
``run_migrations(metadata, url)``.

Given a connection in ``config.attributes["connection"]`` (the test fixtures do this from inside
their event loop) it migrates on that connection; otherwise it opens the service's async engine.
SQLite gets batch mode, so that ALTERs work on both backends.
"""

import asyncio
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.dialects import postgresql
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
        async with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch mode copies a table, drops the old one and renames the copy: with
                # foreign keys enforced, dropping a table that rows of another reference fails.
                # Off for the migration (the pragma takes effect only outside a transaction,
                # hence before it), every reference checked before it commits, on again after.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.run_sync(_migrate, metadata)
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"the migration left a broken reference in {broken[0]}")
            await connection.commit()
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
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


def create_idempotency_records() -> sa.Table:
    """Create a service's ``idempotency_record`` table (``servicekit.idempotency``), as the kit
    first defined it; a later change to the record comes as a migration of its own. For a
    service's migration to call: ``table = create_idempotency_records()``."""
    name = "idempotency_record"
    document = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    table = op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=96), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("lock_token", sa.Uuid(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_headers", document, nullable=True),
        sa.Column("response_body", document, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("owner", "key", name=op.f(f"uq_{name}_owner")),
    )
    op.create_index(op.f(f"ix_{name}_expires_at"), name, ["expires_at"])
    return table


def drop_idempotency_records() -> None:
    op.drop_index(op.f("ix_idempotency_record_expires_at"), table_name="idempotency_record")
    op.drop_table("idempotency_record")


def create_outbox_events(name: str = "outbox_event") -> sa.Table:
    """Create a service's outbox table (``servicekit.events.OutboxEventMixin``), as the kit
    first defined it; a later change to the mixin comes as a migration of its own."""
    pending = sa.text("status = 'pending'")
    table = op.create_table(
        name,
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("subscriber", sa.String(length=300), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f(f"ck_{name}_status")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("event_id", "subscriber", name=op.f(f"uq_{name}_event_id")),
    )
    op.create_index(
        op.f(f"ix_{name}_pending"),
        name,
        ["seq"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index(
        op.f(f"ix_{name}_pending_subject"),
        name,
        ["subscriber", "subject", "seq"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index(op.f(f"ix_{name}_emitted_at"), name, ["emitted_at"])
    return table


def drop_outbox_events(name: str = "outbox_event") -> None:
    for index in ("emitted_at", "pending_subject", "pending"):
        op.drop_index(op.f(f"ix_{name}_{index}"), table_name=name)
    op.drop_table(name)


def create_inbox_events(name: str = "inbox_event") -> sa.Table:
    """Create a consumer's inbox table (``servicekit.events.InboxEventMixin``), as the kit
    first defined it; a later change to the mixin comes as a migration of its own."""
    return op.create_table(
        name,
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f(f"pk_{name}")),
    )


def drop_inbox_events(name: str = "inbox_event") -> None:
    op.drop_table(name)
