"""Ratings accepted per second on PostgreSQL through rating-svc, against a bare insert of the
same rows in the same run (``python -m bench.rating_acceptance``).

A fresh database (``ONEVISIT_TEST_POSTGRES_URL`` names the server; dropped after), migrated to
rating-svc's head. rating-svc's app runs in this process with its real lifespan (``create_app``;
tokens signed by a key the run holds, as its tests do; its rectification watch off; every event
type subscribed to, so each rating writes its outbox rows as where someone listens, no relay
running), driven through ``httpx.ASGITransport``. case-svc, which rating-svc asks through the
gateway for the case it rates, is answered in process (``httpx.MockTransport``, as rating-svc's
tests do): the bench measures rating-svc, not the hop.

``--ratings`` citizens each rate their own completed case once (``POST /ratings/v1/ratings``,
``--concurrency`` at once), at levels 5…1 in 50/25/12/8/5 %: every rating answers its
invitation and adds to its roll-ups, and the 13 % bad reviews open a rectification with its
history. Then the baseline: the rating rows the service wrote, inserted again as they are (new
ids and case numbers), one transaction per row, the same number at once through the same
engine. Prints both rates, their ratio, the rows each rating left in each table, and the
statements each rating sent (by their first words) with its round trips to PostgreSQL (those
statements, and a BEGIN and a COMMIT per transaction).

The machine's two cores are shared with PostgreSQL and maybe other work: the same-run ratio is
the result.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.outbox import fresh_databases
from onevisit_dev.platform import REPO_ROOT
from rating_svc.deps import RatingState
from rating_svc.events import EVENT_TYPES
from rating_svc.main import create_app
from rating_svc.models import Base, Invitation, Rating
from rating_svc.settings import RatingSettings
from servicekit.ids import new_id
from servicekit.migrations import upgrade_to_head
from servicekit.state import app_state
from servicekit.testing import TokenMinter

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
SERVICE_DIR = REPO_ROOT / "rating-svc"
BUREAU = "330302-public_security"
ITEM = "public_security.id_card_loss_report"
LEVELS = [5] * 50 + [4] * 25 + [3] * 12 + [2] * 8 + [1] * 5


def case_no(n: int) -> str:
    return f"330302-20261207-{n:06d}"


def case_svc(completed_at: dt.datetime) -> httpx.MockTransport:
    """case-svc as the gateway relays it: case n is citizen-n's, completed."""

    def answer(request: httpx.Request) -> httpx.Response:
        number = request.url.path.rsplit("/", 1)[-1]
        n = int(number.rsplit("-", 1)[-1])
        return httpx.Response(
            200,
            json={
                "case_no": number,
                "status": "completed",
                "item_code": ITEM,
                "applicant_id": f"citizen-{n}",
                "applicant_type": "citizen",
                "department_id": BUREAU,
                "region_code": "330302",
                "completed_at": completed_at.isoformat(),
            },
        )

    return httpx.MockTransport(answer)


async def invite(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    """Each citizen's invitation, as case.completed would have left it."""
    now = dt.datetime.now(dt.UTC)
    async with sessionmaker.begin() as session:
        await session.execute(
            insert(Invitation),
            [
                {
                    "id": new_id(),
                    "case_no": case_no(n),
                    "kind": "case",
                    "applicant_id": f"citizen-{n}",
                    "applicant_type": "citizen",
                    "department_id": BUREAU,
                    "item_code": ITEM,
                    "region_code": "330302",
                    "invited_at": now,
                    "expires_at": now + dt.timedelta(days=30),
                }
                for n in range(1, count + 1)
            ],
        )


async def in_parallel(count: int, concurrency: int, one: Any) -> float:
    """Seconds to run ``one(n)`` for n in 1..count, ``concurrency`` at once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(1, count + 1):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


class Statements:
    """The statements, and the transactions committed, on an engine while ``counting``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counting = False
        self.sent: Counter[str] = Counter()
        self.commits = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._sent)
        event.listen(engine.sync_engine, "commit", self._committed)

    def _sent(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counting:
            self.sent[" ".join(statement.split()[:3])] += 1

    def _committed(self, _connection: Any) -> None:
        if self.counting:
            self.commits += 1

    def per_rating(self, count: int) -> str:
        each = ", ".join(f"{words} {n / count:.2f}" for words, n in self.sent.most_common())
        trips = (self.sent.total() + 2 * self.commits) / count
        return f"{each}; round trips {trips:.2f}"


async def table_rows(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table.name: int(
                await connection.scalar(text(f'SELECT count(*) FROM "{table.name}"')) or 0
            )
            for table in Base.metadata.sorted_tables
        }


async def run(count: int, concurrency: int, tmp: Path) -> None:
    admin_url = os.environ[POSTGRES_ENV]
    async with fresh_databases(admin_url, "rating", prefix="bench_ratings") as urls:
        minter = TokenMinter()
        settings = RatingSettings(
            database_url=urls["rating"],
            environment="test",
            var_dir=tmp,
            log_level="WARNING",
            log_json=True,
            rectification_watch_seconds=0,
            freeze_startup_objects=False,
            event_subscribers={kind: ["/bench/v1/events"] for kind in EVENT_TYPES},
        )
        app = create_app(settings, jwks=minter.jwks)
        async with app.router.lifespan_context(app):
            state = app_state(app, RatingState)
            engine = state.database.engine
            async with engine.begin() as connection:
                await upgrade_to_head(connection, SERVICE_DIR)
            sessionmaker = state.database.sessionmaker
            await invite(sessionmaker, count)
            state.http = httpx.AsyncClient(
                transport=case_svc(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
                base_url="http://gateway",
            )
            tokens = {n: minter.mint(f"citizen-{n}") for n in range(1, count + 1)}
            failures: list[str] = []
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def rate(n: int) -> None:
                    response = await client.post(
                        "/ratings/v1/ratings",
                        json={"case_no": case_no(n), "level": LEVELS[n % len(LEVELS)]},
                        headers={"Authorization": f"Bearer {tokens[n]}"},
                    )
                    if response.status_code != 201:
                        failures.append(response.text)

                statements = Statements(engine)
                statements.counting = True
                through_service = await in_parallel(count, concurrency, rate)
                statements.counting = False
            assert not failures, failures[:3]
            rows = await table_rows(engine)

            async with sessionmaker() as session:
                written = [
                    {column.key: getattr(rating, column.key) for column in Rating.__table__.columns}
                    for rating in (await session.scalars(select(Rating))).all()
                ]

            async def bare(n: int) -> None:
                row = {**written[n - 1], "id": new_id(), "case_no": case_no(n + count)}
                async with sessionmaker.begin() as session:
                    await session.execute(insert(Rating), [row])

            bare_insert = await in_parallel(count, concurrency, bare)
    service_rate = count / through_service
    bare_rate = count / bare_insert
    print(f"{count:,} ratings, {concurrency} at once, PostgreSQL")
    print(f"  through rating-svc   {service_rate:8.0f} ratings/s")
    print(f"  bare insert          {bare_rate:8.0f} rows/s")
    print(f"  ratio                {bare_rate / service_rate:8.2f} (bare / service)")
    print("  rows per rating: " + ", ".join(f"{k} {v / count:.2f}" for k, v in rows.items() if v))
    print("  statements per rating: " + statements.per_rating(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(arguments.ratings, arguments.concurrency, Path(tmp)))


if __name__ == "__main__":
    main()
