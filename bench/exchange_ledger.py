"""What the exchange's ledger costs (``python -m bench.exchange_ledger``).

Three measurements; the first two on SQLite and, when ``ONEVISIT_TEST_POSTGRES_URL`` is set,
on a fresh PostgreSQL database (``--backend`` picks one):

1. Hosted calls with ledger append. data-exchange-svc runs in this process (its real lifespan,
   migrations and seed; tokens signed by a key the run holds), driven by asyncio workers through
   an in-process ASGI transport: no sockets, so the figure is the service's own cost. In
   alternating rounds it drives ``POST /exchange/v1/calls`` (grant check, registry read, one
   ledger entry, a receipt) and, as the same-run baseline, ``GET /exchange/v1/resources/
   population`` (a public catalogue read that writes nothing), and two floors that bound what a
   call can cost: ``GET /healthz`` (the bare request path: the kit's middleware, routing, a JSON
   answer, no database) and one ``SELECT 1`` round trip through SQLAlchemy on a held
   connection. Prints throughput, p50, p99, the CPU this process spent per request (service
   and load generator: steadier than throughput on a shared machine), the ratios, the
   statements a call sends through the request engine, and the mean batch the appender wrote
   (entries per signed tree head).
2. Inclusion-proof generation at growing tree sizes: the tree's stored nodes for N leaves are
   computed level by level in bulk and written directly (the entries themselves play no part in
   a proof; PostgreSQL COPY, then VACUUM ANALYZE), then proofs for random leaves are timed,
   each against a ``SELECT 1`` round trip on the same session as baseline. 10M leaves take under a
   minute to build on PostgreSQL: ``--backend postgresql --skip-calls --sizes
   10000,100000,1000000,10000000``.
3. On PostgreSQL only (``--skip-http`` leaves it out): the service as it is deployed, uvicorn
   with ``--workers`` processes (2: one per core here) on a fresh database, driven by wrk over
   real sockets (``--connections``, 16) with the same call (``exchange_call.lua``), in
   alternating rounds with ``GET /healthz`` and the catalogue read; throughput, wrk's p50 and
   p99, the workers' CPU per request, and the entries the two appenders added against the calls
   answered.

The load generator shares the two cores with the service (and the machine may be busy with
other work): absolute figures move with the machine; the ratios and the batch sizes are the
result.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.proc import children, wait_until_serving
from bench.wrk import Run, ensure_tools, wrk
from data_exchange_svc.deps import ExchangeState
from data_exchange_svc.ledger import service as ledger_service
from data_exchange_svc.ledger.merkle import (
    Frontier,
    inclusion_ranges,
    node_id,
    nodes_for,
)
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.main import create_app
from data_exchange_svc.models import LedgerCheckpoint, LedgerHead, LedgerNode
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
from onevisit_dev.platform import free_port
from servicekit.db import Database, utcnow
from servicekit.migrations import upgrade_to_head
from servicekit.state import app_state
from servicekit.testing import TokenMinter

SERVICE_DIR = Path(__file__).resolve().parents[1] / "data-exchange-svc"
POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
CALL_SCRIPT = Path(__file__).with_name("exchange_call.lua")
CALL = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "face_verification",
}


@dataclass
class Round:
    latencies: list[float]
    errors: int
    seconds: float
    #: CPU seconds this process spent: the service and the load generator together.
    cpu_seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds this process spent per request answered."""
        return self.cpu_seconds / max(len(self.latencies), 1) * 1000


@asynccontextmanager
async def cpu_counted(outcome: list[Round]) -> AsyncIterator[None]:
    """Charge the CPU this process spends while open to the round appended to ``outcome``
    inside: on a machine shared with other work, a steadier measure than throughput."""
    cpu = time.process_time()
    yield
    outcome[-1].cpu_seconds = time.process_time() - cpu


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
    send: Callable[[], Awaitable[httpx.Response]], concurrency: int, seconds: float
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
    return Round(latencies, errors, time.perf_counter() - started)


@asynccontextmanager
async def statements_counted(engine: AsyncEngine) -> AsyncIterator[list[int]]:
    """Counts the statements sent through ``engine`` while open (one element: the count)."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def bench_calls(
    backend: str, tmp: Path, *, concurrency: int, seconds: float, rounds: int
) -> None:
    minter = TokenMinter()
    headers = {"Authorization": f"Bearer {minter.mint('identity-svc', typ='service', loa=0)}"}
    async with database(backend, tmp) as url:
        app = create_app(settings_for(url, tmp), jwks=minter.jwks)
        async with app.router.lifespan_context(app):
            state = app_state(app, ExchangeState)
            transport = httpx.ASGITransport(app=app)
            engine: AsyncEngine = state.database.engine
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def ledgered_call() -> httpx.Response:
                    return await client.post("/exchange/v1/calls", json=CALL, headers=headers)

                async def plain_read() -> httpx.Response:
                    return await client.get("/exchange/v1/resources/population")

                async def bare_request() -> httpx.Response:
                    return await client.get("/healthz")

                for send in (ledgered_call, plain_read, bare_request):  # warm caches, connections
                    (await send()).raise_for_status()
                results: dict[str, list[Round]] = {"call": [], "read": [], "bare": [], "trip": []}
                calls_sent = statements = 0
                for _ in range(rounds):
                    share = seconds / rounds
                    async with cpu_counted(results["bare"]):
                        results["bare"].append(await drive(bare_request, concurrency, share))
                    async with cpu_counted(results["trip"]):
                        results["trip"].append(await round_trips(engine, concurrency, share))
                    async with cpu_counted(results["read"]):
                        results["read"].append(await drive(plain_read, concurrency, share))
                    async with statements_counted(engine) as counted, cpu_counted(results["call"]):
                        results["call"].append(await drive(ledgered_call, concurrency, share))
                    calls_sent += len(results["call"][-1].latencies)
                    statements += counted[0]
            async with state.database.sessionmaker() as session:
                entries = await session.scalar(select(LedgerHead.size)) or 0
                heads = await session.scalar(select(func.count()).select_from(LedgerCheckpoint))
                report = await ledger_service.audit(session, state.ledger_signer.public_key)

    print(f"\n[{backend}] hosted calls, {concurrency} concurrent, {rounds} alternating rounds")
    summary = {}
    for label, title in (
        ("bare", "bare request path (floor)"),
        ("trip", "one SELECT 1 round trip"),
        ("read", "catalogue read (baseline)"),
        ("call", "call + ledger"),
    ):
        latencies = [latency for r in results[label] for latency in r.latencies]
        merged = Round(
            latencies,
            sum(r.errors for r in results[label]),
            sum(r.seconds for r in results[label]),
            sum(r.cpu_seconds for r in results[label]),
        )
        summary[label] = merged
        print(
            f"  {title:28s} {merged.throughput:8.0f} /s   p50 {merged.percentile(0.5):6.1f} ms"
            f"   p99 {merged.percentile(0.99):6.1f} ms   errors {merged.errors}"
            f"   CPU {merged.cpu_ms:5.2f} ms/request"
        )
    ratio = summary["call"].throughput / summary["read"].throughput
    print(f"  call / read throughput ratio: {ratio:.2f}")
    print(
        f"  call / bare ratio: {summary['call'].throughput / summary['bare'].throughput:.2f};"
        f" round trips per call-time: {summary['trip'].throughput / summary['call'].throughput:.1f}"
    )
    print(f"  statements per call on the request engine: {statements / max(calls_sent, 1):.2f}")
    print(
        f"  ledger: {entries} entries under {heads} signed tree heads"
        f" (mean batch {entries / max(heads or 1, 1):.1f}); audit intact: {report.intact}"
    )


async def calls_over_http(
    tmp: Path, *, workers: int, connections: int, seconds: int, rounds: int
) -> None:
    """(3) The service as it runs: uvicorn with ``workers`` processes on a fresh PostgreSQL
    database, driven by wrk over real sockets, in alternating rounds with ``GET /healthz`` and
    the catalogue read; the workers' CPU per request; then the ledger's size against the calls
    answered (every answered call has its entry: two appenders, one head row)."""
    if not ensure_tools():
        print("(3) skipped: wrk is not installed")
        return
    minter = TokenMinter()
    token = minter.mint("identity-svc", typ="service", loa=0, ttl_seconds=3600)
    (tmp / "jwks.json").write_text(json.dumps(minter.jwks_document()), encoding="utf-8")
    async with database("postgresql", tmp) as url:
        with static_files(tmp) as files, exchange_workers(url, tmp, files, workers) as (base, pids):
            auth = (f"Authorization: Bearer {token}",)
            targets: dict[str, tuple[str, Path | None]] = {
                "bare": (f"{base}/healthz", None),
                "read": (f"{base}/exchange/v1/resources/population", None),
                "call": (f"{base}/exchange/v1/calls", CALL_SCRIPT),
            }
            body = (json.dumps(CALL),)
            runs: dict[str, list[Run]] = {label: [] for label in targets}
            for n in range(rounds + 1):  # the first round warms pools and caches, uncounted
                for label, (target, script) in targets.items():
                    run = await asyncio.to_thread(
                        wrk,
                        label,
                        target,
                        connections=connections,
                        seconds=1 if n == 0 else seconds,
                        cpu_pids=pids,
                        headers=auth,
                        script=script,
                        script_args=body if script else (),
                    )
                    if run.non_2xx:
                        raise SystemExit(f"{label}: {run.non_2xx} answers were not 2xx")
                    if n:
                        runs[label].append(run)
                if n == 0:
                    before = await ledger_size(url)
        entries = await ledger_size(url) - before
    answered = sum(run.requests for run in runs["call"])
    print(
        f"\n[postgresql, over HTTP] uvicorn --workers {workers}, wrk -c{connections},"
        f" {rounds} alternating rounds of {seconds} s (median of rounds)"
    )
    for label, title in (
        ("bare", "GET /healthz (floor)"),
        ("read", "catalogue read (baseline)"),
        ("call", "call + ledger"),
    ):
        mine = runs[label]
        print(
            f"  {title:28s} {statistics.median(r.throughput for r in mine):8.0f} /s"
            f"   p50 {statistics.median(r.p50 for r in mine) * 1000:6.1f} ms"
            f"   p99 {statistics.median(r.p99 for r in mine) * 1000:6.1f} ms"
            f"   workers' CPU {statistics.median(r.cpu_ms for r in mine):5.2f} ms/request"
        )
    call = statistics.median(r.throughput for r in runs["call"])
    read = statistics.median(r.throughput for r in runs["read"])
    print(
        f"  call / read throughput ratio: {call / read:.2f}; target ≥ 1,000/s: ×{call / 1000:.2f}"
    )
    print(
        f"  ledger: {entries} entries appended for {answered} calls answered in the counted rounds"
        f" (wrk does not count the up to {connections} calls in flight when a round ends)"
    )


async def ledger_size(url: str) -> int:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            return int(await session.scalar(select(LedgerHead.size)) or 0)
    finally:
        await database.dispose()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_files(directory: Path) -> Iterator[str]:
    """An HTTP server for ``directory`` on a free port (the JWKS the workers fetch)."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def exchange_workers(
    url: str, tmp: Path, files: str, workers: int, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[str, list[int]]]:
    """data-exchange-svc under uvicorn with ``workers`` processes (one: uvicorn serves in its
    own process), with ``settings`` as further ``EXCHANGE_*`` variables: its base URL and the
    workers' pids."""
    port = free_port()
    env = {
        **os.environ,
        "EXCHANGE_DATABASE_URL": url,
        "EXCHANGE_JWKS_URL": f"{files}/jwks.json",
        "EXCHANGE_VAR_DIR": str(tmp),
        "EXCHANGE_LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "data_exchange_svc.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--log-level", "warning"]
    log = (tmp / "exchange-workers.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(f"{base}/readyz", process=server, seconds=60)
        except RuntimeError as exc:
            raise SystemExit(f"data-exchange-svc did not start ({exc}): see {log.name}") from exc
        pids = [server.pid] if workers == 1 else children(server.pid)
        while len(pids) < workers:
            time.sleep(0.2)
            pids = children(server.pid)
        yield base, pids
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


async def round_trips(engine: AsyncEngine, concurrency: int, seconds: float) -> Round:
    """``SELECT 1`` on connections held for the whole round: one database round trip each."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        async with engine.connect() as connection:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await connection.exec_driver_sql("SELECT 1")
                latencies.append(time.perf_counter() - started)

    # At most the pool's own size at once: beyond it, workers would wait for a connection.
    workers = min(concurrency, engine.pool.size())  # type: ignore[attr-defined]
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return Round(latencies, 0, time.perf_counter() - started)


#: Leaves hashed per step of the bulk build (with their subtrees): 2**20.
_CHUNK_LEVEL = 20


def _parents(children: list[bytes]) -> list[bytes]:
    """The nodes over complete pairs of ``children`` (an odd last child has none yet)."""
    sha256 = hashlib.sha256
    rights = children[1::2]
    lefts = children[0 : 2 * len(rights) : 2]
    return [
        sha256(b"\x01" + left + right).digest() for left, right in zip(lefts, rights, strict=True)
    ]


class BulkTree:
    """The stored nodes of a tree of ``size`` synthetic leaves (leaf ``i`` hashes the 8 bytes of
    ``i``), computed level by level in bulk rather than leaf by leaf through
    ``Frontier.append``: the leaves of an aligned chunk of 2**20, each level above them within
    the chunk, then the levels above the chunks. Every complete subtree comes out once, as the
    appender stores it; the last node of each level is the frontier's hash at that level, if
    the size has that bit."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._last: dict[int, bytes] = {}

    def _rows(self, level: int, first: int, hashes: list[bytes]) -> list[tuple[int, bytes]]:
        if hashes:
            self._last[level] = hashes[-1]
        base = node_id((level, first))
        return list(zip(range(base, base + len(hashes)), hashes, strict=True))

    def chunks(self) -> Iterator[list[tuple[int, bytes]]]:
        """``(node id, hash)`` rows, about two million at a time."""
        sha256 = hashlib.sha256
        chunk = 1 << _CHUNK_LEVEL
        tops: list[bytes] = []
        for start in range(0, self.size, chunk):
            end = min(self.size, start + chunk)
            nodes = [sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(start, end)]
            level, rows = 0, self._rows(0, start, nodes)
            while len(nodes) > 1:
                nodes, level = _parents(nodes), level + 1
                rows.extend(self._rows(level, start >> level, nodes))
            if level == _CHUNK_LEVEL:
                tops.extend(nodes)
            yield rows
        level, nodes, rows = _CHUNK_LEVEL, tops, []
        while len(nodes) > 1:
            nodes, level = _parents(nodes), level + 1
            rows.extend(self._rows(level, 0, nodes))
        yield rows

    def frontier(self) -> Frontier:
        """The tree's right edge, once ``chunks`` has run: enough to compute its root."""
        bits = [bit for bit in range(self.size.bit_length() - 1, -1, -1) if self.size >> bit & 1]
        return Frontier(self.size, [self._last[bit] for bit in bits])


async def build_tree(url: str, size: int) -> None:
    """Write the stored nodes of a tree of ``size`` synthetic leaves and sign its head. Bulk
    paths of each driver (PostgreSQL COPY, sqlite3 executemany): the service's own appends are
    measured by the call benchmark, this only sets the stage."""
    db = Database(url)
    tree = BulkTree(size)
    try:
        async with db.engine.begin() as connection:
            postgres = db.engine.dialect.name == "postgresql"
            if postgres:
                await connection.execute(text("TRUNCATE ledger_node, ledger_checkpoint"))
            else:
                await connection.execute(delete(LedgerNode))
                await connection.execute(delete(LedgerCheckpoint))
            raw: Any = (await connection.get_raw_connection()).driver_connection
            # The next chunk is hashed in a thread while the database takes the last one.
            chunks, loop = tree.chunks(), asyncio.get_running_loop()
            hashing = loop.run_in_executor(None, next, chunks, None)
            while (rows := await hashing) is not None:
                hashing = loop.run_in_executor(None, next, chunks, None)
                if postgres:
                    await raw.copy_records_to_table("ledger_node", records=rows)
                else:
                    await raw.executemany("INSERT INTO ledger_node (id, hash) VALUES (?, ?)", rows)
        if postgres:
            # What autovacuum would do soon after a bulk load, done before the timing rather
            # than during it: the planner's statistics and the visibility map.
            async with db.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM (ANALYZE) ledger_node"))
        frontier = tree.frontier()
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
    parser.add_argument("--seconds", type=float, default=8.0, help="per backend and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="tree sizes for the proof curve (10M: add 10000000, under a minute on PostgreSQL)",
    )
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument(
        "--backend",
        choices=("all", "sqlite", "postgresql"),
        default="all",
        help=f"all: SQLite, and PostgreSQL when {POSTGRES_ENV} is set",
    )
    parser.add_argument("--skip-calls", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    parser.add_argument(
        "--skip-http", action="store_true", help="skip (3), the service over HTTP (PostgreSQL)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers in (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in (3)")
    arguments = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_ENV) else [])
    if arguments.backend != "all":
        if arguments.backend == "postgresql" and not os.environ.get(POSTGRES_ENV):
            parser.error(f"--backend postgresql needs {POSTGRES_ENV}")
        backends = [arguments.backend]
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
            if "postgresql" in backends and not arguments.skip_http:
                await calls_over_http(
                    tmp,
                    workers=arguments.workers,
                    connections=arguments.connections,
                    seconds=max(2, round(arguments.seconds / arguments.rounds)),
                    rounds=arguments.rounds,
                )

    asyncio.run(run())


if __name__ == "__main__":
    main()
