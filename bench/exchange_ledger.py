"""What the exchange's ledger costs (``python -m bench.exchange_ledger``).

Two measurements, each on SQLite and, when ``ONEVISIT_TEST_POSTGRES_URL`` is set, on a fresh
PostgreSQL database:

1. Hosted calls with ledger append. data-exchange-svc runs in this process (its real lifespan,
   migrations and seed; tokens signed by a key the run holds), driven by asyncio workers through
   an in-process ASGI transport: no sockets, so the figure is the service's own cost. In
   alternating rounds it drives ``POST /exchange/v1/calls`` (grant check, registry read, one
   ledger entry, a receipt) and, as the same-run baseline, ``GET /exchange/v1/resources/
   population`` (a public catalogue read that writes nothing). Prints throughput, p50, p99, the
   ratio, and the mean batch the appender wrote (entries per signed tree head).
2. Inclusion-proof generation at growing tree sizes: the tree's stored nodes for N leaves are
   written directly (the entries themselves play no part in a proof), then proofs for random
   leaves are timed against the 10k tree as baseline.

The load generator shares the two cores with the service: absolute figures move with the
machine; the ratios and the batch sizes are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from data_exchange_svc.ledger import service as ledger_service
from data_exchange_svc.ledger.merkle import (
    Frontier,
    inclusion_ranges,
    leaf_hash,
    node_id,
    nodes_for,
)
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.main import create_app
from data_exchange_svc.models import LedgerCheckpoint, LedgerHead, LedgerNode
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import Database, utcnow
from servicekit.migrations import upgrade_to_head
from servicekit.testing import TokenMinter

SERVICE_DIR = Path(__file__).resolve().parents[1] / "data-exchange-svc"
POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
CALL = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "face_verification",
}


@dataclass
class Round:
    label: str
    latencies: list[float]
    errors: int
    seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """A migrated, seeded, empty-ledger database URL for one backend."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'exchange-{secrets.token_hex(4)}.db'}"
        dropper = None
    else:
        admin_url = os.environ[POSTGRES_ENV]
        name = f"bench_exchange_{secrets.token_hex(4)}"
        admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"

        async def dropper() -> None:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()

    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await upgrade_to_head(connection, SERVICE_DIR)
        async with db.sessionmaker.begin() as session:
            await seed(session, settings_for(url, tmp))
    finally:
        await db.dispose()
    try:
        yield url
    finally:
        if dropper is not None:
            await dropper()


def settings_for(url: str, tmp: Path) -> ExchangeSettings:
    return ExchangeSettings(
        database_url=url, environment="test", var_dir=tmp, log_level="WARNING", log_json=True
    )


async def drive(
    label: str, send: Callable[[], Awaitable[httpx.Response]], concurrency: int, seconds: float
) -> Round:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await send()
            if response.status_code != 200:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Round(label, latencies, errors, time.perf_counter() - started)


async def bench_calls(
    backend: str, tmp: Path, *, concurrency: int, seconds: float, rounds: int
) -> None:
    minter = TokenMinter()
    headers = {"Authorization": f"Bearer {minter.mint('identity-svc', typ='service', loa=0)}"}
    async with database(backend, tmp) as url:
        app = create_app(settings_for(url, tmp), jwks=minter.jwks)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def ledgered_call() -> httpx.Response:
                    return await client.post("/exchange/v1/calls", json=CALL, headers=headers)

                async def plain_read() -> httpx.Response:
                    return await client.get("/exchange/v1/resources/population")

                for send in (ledgered_call, plain_read):  # warm caches and connections
                    (await send()).raise_for_status()
                results: dict[str, list[Round]] = {"call": [], "read": []}
                for _ in range(rounds):
                    results["read"].append(
                        await drive("read", plain_read, concurrency, seconds / rounds)
                    )
                    results["call"].append(
                        await drive("call", ledgered_call, concurrency, seconds / rounds)
                    )
            async with app.state.database.sessionmaker() as session:
                entries = await session.scalar(select(LedgerHead.size))
                heads = await session.scalar(select(func.count()).select_from(LedgerCheckpoint))
                report = await ledger_service.audit(session, app.state.ledger_signer.public_key)

    print(f"\n[{backend}] hosted calls, {concurrency} concurrent, {rounds} alternating rounds")
    summary = {}
    for label, title in (("read", "catalogue read (baseline)"), ("call", "call + ledger")):
        latencies = [latency for r in results[label] for latency in r.latencies]
        merged = Round(
            label,
            latencies,
            sum(r.errors for r in results[label]),
            sum(r.seconds for r in results[label]),
        )
        summary[label] = merged
        print(
            f"  {title:28s} {merged.throughput:8.0f} req/s   p50 {merged.percentile(0.5):6.1f} ms"
            f"   p99 {merged.percentile(0.99):6.1f} ms   errors {merged.errors}"
        )
    ratio = summary["call"].throughput / summary["read"].throughput
    print(f"  call / read throughput ratio: {ratio:.2f}")
    print(
        f"  ledger: {entries} entries under {heads} signed tree heads"
        f" (mean batch {entries / max(heads or 1, 1):.1f}); audit intact: {report.intact}"
    )


def tree_rows(size: int, chunk: int) -> Iterator[tuple[list[tuple[int, bytes]], Frontier]]:
    frontier = Frontier()
    for start in range(0, size, chunk):
        rows = []
        for index in range(start, min(size, start + chunk)):
            for key, value in frontier.append(leaf_hash(index.to_bytes(8, "big"))):
                rows.append((node_id(key), value))
        yield rows, frontier


async def build_tree(url: str, size: int, *, chunk: int = 100_000) -> None:
    """Write the stored nodes of a tree of ``size`` synthetic leaves and sign its head. Bulk
    paths of each driver (sqlite3 executemany, PostgreSQL COPY): the service's own appends are
    measured by the call benchmark, this only sets the stage."""
    db = Database(url)
    frontier = Frontier()
    try:
        async with db.engine.begin() as connection:
            await connection.execute(LedgerNode.__table__.delete())
            await connection.execute(LedgerCheckpoint.__table__.delete())
            raw: Any = (await connection.get_raw_connection()).driver_connection
            for rows, grown in tree_rows(size, chunk):
                frontier = grown
                if db.engine.dialect.name == "postgresql":
                    await raw.copy_records_to_table("ledger_node", records=rows)
                else:
                    await raw.executemany("INSERT INTO ledger_node (id, hash) VALUES (?, ?)", rows)
        head = LedgerSigner.generate().sign(frontier.size, frontier.root(), utcnow())
        async with db.sessionmaker.begin() as session:
            session.add(
                LedgerCheckpoint(
                    tree_size=head.tree_size,
                    root_hash=head.root_hash,
                    published_at=head.timestamp,
                    signature=head.signature,
                )
            )
    finally:
        await db.dispose()


async def bench_proofs(backend: str, tmp: Path, *, sizes: list[int], proofs: int) -> None:
    print(f"\n[{backend}] inclusion-proof generation ({proofs} random leaves per size)")
    async with database(backend, tmp) as url:
        for size in sizes:
            built = time.perf_counter()
            await build_tree(url, size)
            build_seconds = time.perf_counter() - built
            db = Database(url)
            timings, round_trips, reads = [], [], []
            try:
                async with db.sessionmaker() as session:
                    for seq in random.sample(range(1, size + 1), min(proofs, size)):
                        # The same-run baseline: one trivial round trip on the same session.
                        started = time.perf_counter()
                        await session.execute(text("SELECT 1"))
                        round_trips.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        proof = await ledger_service.inclusion_proof(session, seq, size)
                        timings.append(time.perf_counter() - started)
                        reads.append(len(nodes_for(inclusion_ranges(seq - 1, size))) + 1)
                        assert proof.tree_size == size
            finally:
                await db.dispose()
            median = statistics.median(timings) * 1000
            p99 = sorted(timings)[min(len(timings) - 1, int(0.99 * len(timings)))] * 1000
            trip = statistics.median(round_trips) * 1000
            print(
                f"  {size:>10,} leaves: median {median:5.2f} ms  p99 {p99:6.2f} ms"
                f"  = {median / trip:4.1f}x a SELECT 1 round trip ({trip:4.2f} ms);"
                f" {max(reads)} node rows in 2 queries; tree built in {build_seconds:5.1f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.exchange_ledger")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="per backend, both paths")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="tree sizes for the proof curve (10M: add 10000000, ~10 min to build per backend)",
    )
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    arguments = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_ENV) else [])
    sizes = [int(size) for size in arguments.sizes.split(",")]

    async def run() -> None:
        with tempfile.TemporaryDirectory() as directory:
            tmp = Path(directory)
            for backend in backends:
                if not arguments.skip_calls:
                    await bench_calls(
                        backend,
                        tmp,
                        concurrency=arguments.concurrency,
                        seconds=arguments.seconds,
                        rounds=arguments.rounds,
                    )
                if not arguments.skip_proofs:
                    await bench_proofs(backend, tmp, sizes=sizes, proofs=arguments.proofs)

    asyncio.run(run())


if __name__ == "__main__":
    main()
