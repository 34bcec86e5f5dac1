"""Ratings and rectifications written before levels and the rectification clock are carried
over by the migrations, run as an operator runs them (the Alembic command), on both backends:
the lowest of the three old scores becomes the level, an open rectification waits for its
call-back with the shipped deadlines counted from its opening."""

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.testing import POSTGRES_ENV

SERVICE_DIR = Path(__file__).resolve().parents[1]
BEFORE_LEVELS = "3e8a5c1d9f47"
RATING_ID = "0196f3d02b3c7d4e9f5a6b7c8d9e0f1a"
RECTIFICATION_ID = "0196f3d02b3c7d4e9f5a6b7c8d9e0f1b"


async def alembic(url: str, *arguments: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(SERVICE_DIR / "alembic.ini"),
        *arguments,
        env={**os.environ, "RATING_DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")


async def _postgres(statement: str) -> None:
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(statement))
    await admin.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def empty_database(database_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, empty."""
    if database_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'carried-over.db'}"
        return
    name = f"ov_test_rating_migration_{secrets.token_hex(4)}"
    await _postgres(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
    finally:
        await _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_old_ratings_and_rectifications_are_carried_over(empty_database: str) -> None:
    await alembic(empty_database, "upgrade", BEFORE_LEVELS)
    postgres = empty_database.startswith("postgresql")
    rating_id = f"'{RATING_ID}'" if not postgres else f"'{RATING_ID}'::uuid"
    rectification_id = f"'{RECTIFICATION_ID}'" if not postgres else f"'{RECTIFICATION_ID}'::uuid"
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO rating (id, case_no, citizen_id, department_id, item_code, "
                    "region_code, efficiency, quality, attitude, created_at) VALUES "
                    f"({rating_id}, '330302-20261126-000001', 'citizen-1', "
                    "'330302-public_security', 'public_security.id_card_loss_report', '330302', "
                    "5, 2, 4, '2026-11-26 02:00:00+00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO rectification (id, rating_id, department_id, status, opened_at) "
                    f"VALUES ({rectification_id}, {rating_id}, '330302-public_security', "
                    "'open', '2026-11-26 02:00:00+00:00')"
                )
            )
        await alembic(empty_database, "upgrade", "head")
        async with engine.connect() as connection:
            rating = (
                await connection.execute(
                    text("SELECT applicant_id, kind, level, bad_review, channel FROM rating")
                )
            ).one()
            rectification = (
                await connection.execute(
                    text(
                        "SELECT status, case_no, applicant_id, version, call_back_due_at, "
                        "rectification_due_at FROM rectification"
                    )
                )
            ).one()
            # The figures count it from the start, up to the province.
            province = (
                await connection.execute(
                    text(
                        "SELECT ratings, level_2, bad_reviews, rectifications_opened "
                        "FROM rating_rollup WHERE dimension = 'region' AND key = '330000' "
                        "AND granularity = 'month'"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(province) == (1, 1, 1, 1)
    assert tuple(rating) == ("citizen-1", "case", 2, True, "app")
    status, case_no, applicant_id, version, call_back_due_at, rectification_due_at = rectification
    assert (status, case_no, applicant_id, version) == (
        "awaiting_call_back",
        "330302-20261126-000001",
        "citizen-1",
        1,
    )
    # Opened on Thursday 26 November 2026: called back by Friday night, rectified by the
    # fifteenth working day after (17 December), Asia/Shanghai.
    assert str(call_back_due_at).startswith("2026-11-27 15:59:59")
    assert str(rectification_due_at).startswith("2026-12-17 15:59:59")
