"""What catalog-svc's reads cost (``python -m bench.catalog_search``).

Builds the catalogue in a fresh SQLite database (migrations and the seed: 27,000 regions, 3,500
departments, every item), starts catalog-svc's app in this process and drives it through one
in-process HTTP client (httpx over ASGI: no sockets, so the figures are the service's own
work plus the framework's): ``GET /healthz`` as the same-run baseline, searches with the
relevance test set's queries over the full catalogue, handler resolution and region lookups,
in alternating rounds. Prints p50 / p95 and throughput of each, their ratios to the baseline,
the search index's own time per query (no HTTP), and the relevance test set's share of queries
whose item is in the top five.

One request at a time, on a shared two-core machine: absolute figures move, the same-run ratios
are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from catalog_svc.main import create_app
from catalog_svc.seed import seed
from catalog_svc.settings import DEFAULT_DATA_DIR, CatalogSettings
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head

SERVICE_DIR = DEFAULT_DATA_DIR.parent
RELEVANCE_FILE = DEFAULT_DATA_DIR / "search_relevance.toml"
#: Applicants' regions for handler resolution: villages, townships, counties, a retired county
#: code (330104, followed to its successor); every written form.
APPLICANT_REGIONS = (
    "330302026003", "330302026", "330302", "330381", "330106", "330104",
    "330782001", "331102", "330212", "330603", "330502", "330726",
)  # fmt: skip
#: Region lookups: the applicants' regions and cities and the province.
LOOKUP_REGIONS = (*APPLICANT_REGIONS, "3303", "330100000000", "33")
HANDLER_ITEMS = (
    "public_security.id_card_loss_report",
    "housing_provident_fund.withdrawal",
    "traffic_police.violation_handling",
    "civil_affairs.marriage_registration",
    "market_regulation.enterprise_establishment",
    "health.vaccination_certificate",
)


@dataclass
class Series:
    label: str
    latencies: list[float]
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def relevance_cases() -> list[dict[str, Any]]:
    with RELEVANCE_FILE.open("rb") as handle:
        cases: list[dict[str, Any]] = tomllib.load(handle)["cases"]
    return cases


async def build_database(url: str, settings: CatalogSettings) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await upgrade_to_head(connection, SERVICE_DIR)
    finally:
        await engine.dispose()
    database = Database(url)
    try:
        async with database.sessionmaker.begin() as session:
            await seed(session, settings)
    finally:
        await database.dispose()


async def timed_round(
    client: httpx.AsyncClient, series: Series, paths: Sequence[str], seconds: float
) -> None:
    """Cycle through the paths for about ``seconds``, one request at a time."""
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    position = 0
    while time.perf_counter() < deadline:
        path = paths[position % len(paths)]
        position += 1
        begun = time.perf_counter()
        response = await client.get(path)
        series.latencies.append(time.perf_counter() - begun)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")
    series.seconds += time.perf_counter() - started


def index_timings(search: Callable[[str], object], queries: Sequence[str], repeat: int) -> Series:
    series = Series("index", [])
    started = time.perf_counter()
    for _ in range(repeat):
        for query in queries:
            begun = time.perf_counter()
            search(query)
            series.latencies.append(time.perf_counter() - begun)
    series.seconds = time.perf_counter() - started
    return series


@asynccontextmanager
async def scratch_database(postgres: str | None, tmp: Path) -> AsyncIterator[str]:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server given (dropped after)."""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{tmp / 'catalog.db'}"
        return
    name = f"ov_bench_catalog_{secrets.token_hex(4)}"
    admin = create_async_engine(postgres, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def run(args: argparse.Namespace) -> None:
    cases = relevance_cases()
    queries = [case["query"] for case in cases]
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-catalog-") as tmp:
        async with scratch_database(args.postgres, Path(tmp)) as url:
            await measure(args, url, Path(tmp), cases, queries)


async def measure(
    args: argparse.Namespace,
    url: str,
    tmp: Path,
    cases: list[dict[str, Any]],
    queries: list[str],
) -> None:
    settings = CatalogSettings(
        database_url=url, var_dir=tmp, log_level="WARNING", environment="test"
    )
    print(f"database: {make_url(url).get_backend_name()}")
    began = time.perf_counter()
    await build_database(url, settings)
    print(f"catalogue built in {time.perf_counter() - began:.1f} s")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            found = 0
            for case in cases:
                response = await client.get(
                    "/catalog/v1/items", params={"q": case["query"], "limit": 5}
                )
                top = [item["code"] for item in response.json()["items"]]
                found += case["expect"] in top
            share = found / len(cases)
            print(
                f"relevance: {found}/{len(cases)} queries find their item in the top 5 "
                f"({share:.1%}; target 95%)"
            )
            paths = {
                "healthz": ["/healthz"],
                "search": [f"/catalog/v1/items?q={q}&limit=20" for q in queries],
                "handler": [
                    f"/catalog/v1/items/{item}/handler?region={region}"
                    for item in HANDLER_ITEMS
                    for region in APPLICANT_REGIONS
                ],
                "region": [f"/catalog/v1/regions/{region}" for region in LOOKUP_REGIONS],
            }
            for targets in paths.values():  # warm every path once
                for path in targets:
                    await client.get(path)
            series = {label: Series(label, []) for label in paths}
            for _ in range(args.rounds):
                for label, targets in paths.items():
                    await timed_round(client, series[label], targets, args.seconds)
        index = app.state.catalog.snapshot.index
        raw = index_timings(index.search, queries, repeat=args.index_repeat)
    base = series["healthz"]
    print(f"\n{'path':<8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}   p50 / healthz  p95 / healthz")
    for label, one in series.items():
        print(
            f"{label:<8} {one.throughput:8.0f} {one.percentile(0.5):8.2f} "
            f"{one.percentile(0.95):8.2f}   {one.percentile(0.5) / base.percentile(0.5):13.1f}"
            f"  {one.percentile(0.95) / base.percentile(0.95):13.1f}"
        )
    print(
        f"\nsearch index alone (no HTTP), {len(queries)} queries x {args.index_repeat}: "
        f"{raw.throughput:.0f} searches/s, p50 {raw.percentile(0.5):.2f} ms, "
        f"p95 {raw.percentile(0.95):.2f} ms over {len(index)} items"
    )
    print(
        "targets (issue): search p95 <= 15 ms and >= 1,000 searches/s; handler p95 <= 3 ms; "
        "region lookup <= 2 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog_search", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path, alternating")
    parser.add_argument("--index-repeat", type=int, default=10, help="passes over the queries")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on a scratch database of this PostgreSQL server (e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) instead of SQLite",
    )
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
