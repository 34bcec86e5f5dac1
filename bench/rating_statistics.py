"""What a published figure costs to read, over 100 thousand to 10 million ratings on PostgreSQL
(``python -m bench.rating_statistics --sizes 100000 1000000``).

For each size, a fresh database migrated to rating-svc's head gets that many ratings of served
cases, inserted in SQL (``generate_series``): 99 counties of 11 cities of one province, ten
department types in each (990 departments), five items per type (50 items), spread over the
days of 2026, levels 5…1 at 50/25/12/8/5 %. Their roll-ups are then built from the ratings in
SQL once, with the rows and dimensions the service upserts one change at a time
(``rating_svc.statistics.rollups``: department, item, region at county, city and province,
department within each of those regions; by day and by month); rectification and follow-up
counts of the bad reviews are derived from a hash of the case number (they would come from the
rectification table, which the reads never touch). A check compares one department's roll-up
with a scan of its ratings.

Then rating-svc's own read (``statistics.service.statistics_of`` / ``ranking_in``, one session
per read, as a request runs it, without HTTP) for random keys: a department over a year of
months and over 90 days, an item over a year of months, the province (every rating) over a year
of months and over 365 days, and the ranking of the province's 990 departments over a year.
Prints p50/p95/max per kind and the query plans (EXPLAIN ANALYZE) of one read of each.

The reads run under the garbage collector's settings a started service runs under
(``servicekit.app.tune_garbage_collection`` with rating-svc's default settings: the objects
made before frozen, young collections every 20,000 allocations); ``--interpreter-gc`` keeps
CPython's own (700, nothing frozen), under which a full collection of the bench's ~110,000
objects costs ~40-50 ms and lands in about one ranking in ten.

``ONEVISIT_TEST_POSTGRES_URL`` names the server; the databases are dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import random
import statistics as stats
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.outbox import fresh_databases
from onevisit_dev.platform import REPO_ROOT
from rating_svc.settings import RatingSettings
from rating_svc.statistics import service
from rating_svc.statistics.rollups import COUNTERS, Granularity
from servicekit.app import tune_garbage_collection
from servicekit.migrations import upgrade_to_head

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
SERVICE_DIR = REPO_ROOT / "rating-svc"
TYPES = [f"type{n:02d}" for n in range(10)]
CITIES = [f"33{city:02d}" for city in range(1, 12)]
COUNTIES = [f"{city}{county:02d}" for city in CITIES for county in range(1, 10)]
YEAR = (dt.date(2026, 1, 1), dt.date(2026, 12, 31))

INSERT_RATINGS = """
INSERT INTO rating (id, case_no, kind, applicant_id, applicant_type, department_id, item_code,
                    region_code, level, bad_review, tags, channel, created_at)
SELECT gen_random_uuid(),
       region || '-2026' || lpad(i::text, 12, '0'), 'case', 'citizen-' || (i % 500000),
       'citizen', region || '-' || type, type || '.item' || (i % 5), region, level, level <= 2,
       '[]', 'app',
       timestamptz '2026-01-01 00:00:00+08' + ((i * 7919) % 365) * interval '1 day'
         + ((i * 104729) % 86400) * interval '1 second'
FROM (
  SELECT i,
         '33' || lpad((1 + (i / 10) % 11)::text, 2, '0') || lpad((1 + (i / 110) % 9)::text, 2, '0')
           AS region,
         'type' || lpad((i % 10)::text, 2, '0') AS type,
         CASE WHEN i % 100 < 50 THEN 5 WHEN i % 100 < 75 THEN 4 WHEN i % 100 < 87 THEN 3
              WHEN i % 100 < 95 THEN 2 ELSE 1 END AS level
  FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
) AS generated
"""

BUILD_ROLLUPS = """
INSERT INTO rating_rollup (dimension, scope, key, granularity, period_start, {counters})
WITH per_day AS (
  SELECT department_id, item_code, region_code,
         (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
         count(*) AS ratings,
         count(*) FILTER (WHERE level = 5) AS level_5,
         count(*) FILTER (WHERE level = 4) AS level_4,
         count(*) FILTER (WHERE level = 3) AS level_3,
         count(*) FILTER (WHERE level = 2) AS level_2,
         count(*) FILTER (WHERE level = 1) AS level_1,
         count(*) FILTER (WHERE bad_review) AS bad_reviews,
         count(*) FILTER (WHERE bad_review) AS rectifications_opened,
         count(*) FILTER (WHERE bad_review AND (hashtext(case_no) & 7) < 6)
           AS rectifications_closed,
         count(*) FILTER (WHERE bad_review AND (hashtext(case_no) & 7) < 5)
           AS rectifications_on_time,
         count(*) FILTER (WHERE bad_review AND (hashtext(case_no) & 7) < 4) AS follow_ups,
         count(*) FILTER (WHERE bad_review AND (hashtext(case_no) & 7) < 3)
           AS follow_ups_satisfied
  FROM rating WHERE kind = 'case' AND excluded_at IS NULL
  GROUP BY 1, 2, 3, 4
)
SELECT x.dimension, x.scope, x.key, g.granularity,
       CASE WHEN g.granularity = 'day' THEN day ELSE date_trunc('month', day)::date END,
       {sums}
FROM per_day
CROSS JOIN LATERAL (VALUES
  ('department', '', department_id),
  ('item', '', item_code),
  ('region', '', region_code),
  ('region', '', substr(region_code, 1, 4) || '00'),
  ('region', '', substr(region_code, 1, 2) || '0000'),
  ('department_in_region', region_code, department_id),
  ('department_in_region', substr(region_code, 1, 4) || '00', department_id),
  ('department_in_region', substr(region_code, 1, 2) || '0000', department_id)
) AS x(dimension, scope, key)
CROSS JOIN (VALUES ('day'), ('month')) AS g(granularity)
GROUP BY 1, 2, 3, 4, 5
""".format(counters=", ".join(COUNTERS), sums=", ".join(f"sum({name})" for name in COUNTERS))


async def load(sessionmaker: async_sessionmaker[AsyncSession], size: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    batch = 1_000_000
    for first in range(0, size, batch):
        async with sessionmaker.begin() as session:
            await session.execute(
                text(INSERT_RATINGS), {"first": first, "last": min(first + batch, size) - 1}
            )
    timings["insert ratings s"] = time.perf_counter() - started
    started = time.perf_counter()
    async with sessionmaker.begin() as session:
        await session.execute(text(BUILD_ROLLUPS))
    timings["build roll-ups s"] = time.perf_counter() - started
    async with sessionmaker.begin() as session:
        await session.execute(text("ANALYZE rating"))
        await session.execute(text("ANALYZE rating_rollup"))
        rows = await session.scalar(text("SELECT count(*) FROM rating_rollup"))
    timings["roll-up rows"] = float(rows or 0)
    return timings


async def check(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """One department's roll-up equals a scan of its ratings."""
    department = f"{COUNTIES[3]}-{TYPES[4]}"
    async with sessionmaker() as session:
        shown = await service.statistics_of(
            session,
            dimension="department",
            key=department,
            granularity="month",
            start=YEAR[0],
            end=YEAR[1],
        )
        scanned = await session.scalar(
            text("SELECT count(*) FROM rating WHERE department_id = :d"), {"d": department}
        )
    assert shown.figures.ratings == scanned, (shown.figures.ratings, scanned)


Read = Callable[[AsyncSession, random.Random], Awaitable[object]]


def reads() -> dict[str, Read]:
    def department(granularity: Granularity, start: dt.date) -> Read:
        async def read(session: AsyncSession, rng: random.Random) -> object:
            key = f"{rng.choice(COUNTIES)}-{rng.choice(TYPES)}"
            return await service.statistics_of(
                session,
                dimension="department",
                key=key,
                granularity=granularity,
                start=start,
                end=YEAR[1],
            )

        return read

    async def item(session: AsyncSession, rng: random.Random) -> object:
        key = f"{rng.choice(TYPES)}.item{rng.randrange(5)}"
        return await service.statistics_of(
            session, dimension="item", key=key, granularity="month", start=YEAR[0], end=YEAR[1]
        )

    def province(granularity: Granularity) -> Read:
        async def read(session: AsyncSession, rng: random.Random) -> object:
            return await service.statistics_of(
                session,
                dimension="region",
                key="330000",
                granularity=granularity,
                start=YEAR[0],
                end=YEAR[1],
            )

        return read

    async def ranking(session: AsyncSession, rng: random.Random) -> object:
        return await service.ranking_in(
            session,
            region="330000",
            granularity="month",
            start=YEAR[0],
            end=YEAR[1],
            min_ratings=10,
        )

    return {
        "department, 12 months": department("month", YEAR[0]),
        "department, 90 days": department("day", dt.date(2026, 10, 3)),
        "item, 12 months": item,
        "province, 12 months": province("month"),
        "province, 365 days": province("day"),
        "ranking of 990 departments in the province, 12 months": ranking,
    }


async def measure(
    sessionmaker: async_sessionmaker[AsyncSession], reads_per_kind: int
) -> dict[str, tuple[float, float, float]]:
    rng = random.Random(16)
    results: dict[str, tuple[float, float, float]] = {}
    for name, read in reads().items():
        for _ in range(10):  # warm the pool and the caches
            async with sessionmaker() as session:
                await read(session, rng)
        times = []
        for _ in range(reads_per_kind):
            started = time.perf_counter()
            async with sessionmaker() as session:
                await read(session, rng)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        results[name] = (stats.median(times), p95, times[-1])
    return results


PLANS = {
    "department, 12 months": (
        "SELECT sum(ratings), sum(level_5) FROM rating_rollup WHERE dimension = 'department' "
        "AND scope = '' AND key = '330104-type04' AND granularity = 'month' "
        "AND period_start BETWEEN '2026-01-01' AND '2026-12-01'"
    ),
    "province, 365 days": (
        "SELECT sum(ratings), sum(level_5) FROM rating_rollup WHERE dimension = 'region' "
        "AND scope = '' AND key = '330000' AND granularity = 'day' "
        "AND period_start BETWEEN '2026-01-01' AND '2026-12-31'"
    ),
    "ranking in the province, 12 months": (
        "SELECT key, sum(ratings), sum(level_5) FROM rating_rollup "
        "WHERE dimension = 'department_in_region' AND scope = '330000' "
        "AND granularity = 'month' AND period_start BETWEEN '2026-01-01' AND '2026-12-01' "
        "GROUP BY key"
    ),
}


async def plans(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        for name, query in PLANS.items():
            print(f"  plan, {name}:")
            for (line,) in await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {query}")):
                print(f"    {line}")


@contextmanager
def service_garbage_collection(interpreter_gc: bool) -> Iterator[None]:
    """The collector as a started rating-svc tunes it, undone after (the next size starts
    afresh); CPython's own when ``interpreter_gc``."""
    if interpreter_gc:
        yield
        return
    threshold = gc.get_threshold()
    tune_garbage_collection(RatingSettings())
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def run(size: int, reads_per_kind: int, show_plans: bool, interpreter_gc: bool) -> None:
    admin_url = os.environ[POSTGRES_ENV]
    async with fresh_databases(admin_url, "rating", prefix="bench_statistics") as urls:
        engine = create_async_engine(urls["rating"], pool_size=5)
        try:
            async with engine.begin() as connection:
                await upgrade_to_head(connection, SERVICE_DIR)
            sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
            timings = await load(sessionmaker, size)
            await check(sessionmaker)
            print(f"{size:,} ratings: " + ", ".join(f"{k} {v:,.1f}" for k, v in timings.items()))
            with service_garbage_collection(interpreter_gc):
                measured = await measure(sessionmaker, reads_per_kind)
            for name, (p50, p95, worst) in measured.items():
                print(f"  {name:<55} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {worst:6.2f} ms")
            if show_plans:
                await plans(sessionmaker)
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reads", type=int, default=200, help="reads per kind and size")
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument(
        "--interpreter-gc",
        action="store_true",
        help="CPython's collector settings instead of those a started service runs under",
    )
    arguments = parser.parse_args()
    for size in arguments.sizes:
        asyncio.run(run(size, arguments.reads, not arguments.no_plans, arguments.interpreter_gc))


if __name__ == "__main__":
    main()
