"""The kit's engine on PostgreSQL: a pooled connection the server has closed is replaced at
checkout, without a round trip to find out."""

import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.db import PlanCacheMode, create_engine
from servicekit.testing import POSTGRES_ENV

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} names no PostgreSQL server"
)

BACKEND_PID = text("SELECT pg_backend_pid()")


async def test_a_connection_the_server_closed_is_replaced_at_checkout() -> None:
    engine = create_engine(os.environ[POSTGRES_ENV])
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(BACKEND_PID)).scalar_one()
            pooled = (await connection.get_raw_connection()).driver_connection
        async with admin.connect() as connection:
            ended = await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": first}
            )
            assert ended.scalar_one() is True
        # The server's close reaches the pooled connection once the loop has read it.
        for _ in range(200):
            if pooled.is_closed():
                break
            await asyncio.sleep(0.01)
        assert pooled.is_closed()
        async with engine.connect() as connection:
            second = (await connection.execute(BACKEND_PID)).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_checking_out_a_live_connection_sends_nothing() -> None:
    engine = create_engine(os.environ[POSTGRES_ENV])
    try:
        async with engine.connect() as connection:
            pooled = (await connection.get_raw_connection()).driver_connection
        sent: list[str] = []
        pooled.add_query_logger(lambda record: sent.append(record.query))
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 2"))
        # The statement itself goes as a prepared statement, which the logger does not see:
        # what it does see is the transaction of this work, and no ping before it.
        assert sent == ["BEGIN;", "ROLLBACK;"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("mode", ["auto", "force_custom_plan"])
async def test_each_connection_plans_prepared_statements_as_the_settings_say(
    mode: PlanCacheMode,
) -> None:
    engine = create_engine(os.environ[POSTGRES_ENV], plan_cache_mode=mode)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SHOW plan_cache_mode"))).scalar() == mode
    finally:
        await engine.dispose()
