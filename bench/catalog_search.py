"""What catalog-svc's reads cost (``python -m bench.catalog_search``).

Builds the catalogue in a fresh SQLite database (migrations and the seed: 27,000 regions, 3,500
departments, every item), then measures the same four reads two ways, each against
``GET /healthz`` measured in the same run as the baseline, in alternating rounds:

- in process: catalog-svc's app driven through one httpx client over ASGI, one request at a
  time (no sockets: the service's own work plus the framework's);
- over HTTP: catalog-svc served by uvicorn in its own process (as ``make run`` and the image
  start it), driven by ``--concurrency`` kept-alive connections from this process (a minimal
  HTTP/1.1 client on asyncio streams, so that the load generator costs the server's second core
  as little as it can). Also prints the server process's CPU time per request (``/proc``).

The reads: searches with the relevance test set's queries over the full catalogue, handler
resolution, region lookups. Prints throughput and p50 / p95 of each and their ratios to the
baseline, the search index's own time per query (no HTTP), and the relevance test set's share
of queries whose item is in the top five.

On a shared two-core machine absolute figures move; the same-run ratios hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.proc import cpu_seconds
from catalog_svc.deps import CatalogState
from catalog_svc.main import create_app
from catalog_svc.seed import seed
from catalog_svc.settings import DEFAULT_DATA_DIR, CatalogSettings
from onevisit_dev.platform import free_port
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.state import app_state

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


def read_paths(queries: Sequence[str]) -> dict[str, list[str]]:
    """The paths of each read, ``healthz`` (the baseline) first."""
    return {
        "healthz": ["/healthz"],
        "search": [f"/catalog/v1/items?q={quote(q)}&limit=20" for q in queries],
        "handler": [
            f"/catalog/v1/items/{item}/handler?region={region}"
            for item in HANDLER_ITEMS
            for region in APPLICANT_REGIONS
        ],
        "region": [f"/catalog/v1/regions/{region}" for region in LOOKUP_REGIONS],
    }


async def run(args: argparse.Namespace) -> None:
    cases = relevance_cases()
    queries = [case["query"] for case in cases]
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-catalog-") as tmp:
        async with scratch_database(args.postgres, Path(tmp)) as url:
            settings = CatalogSettings(
                database_url=url, var_dir=Path(tmp), log_level="WARNING", environment="test"
            )
            print(f"database: {make_url(url).get_backend_name()}")
            began = time.perf_counter()
            await build_database(url, settings)
            print(f"catalogue built in {time.perf_counter() - began:.1f} s")
            if not args.http_only:
                await measure_in_process(args, settings, cases, queries)
            if not args.in_process_only:
                await measure_over_http(args, url, Path(tmp), queries)
    print(
        "\ntargets (issue), over HTTP: >= 1,000 searches/s with search p95 <= 15 ms; "
        "handler p95 <= 3 ms; region lookup p95 <= 2 ms"
    )


def report(series: dict[str, Series], cpu: dict[str, float] | None = None) -> None:
    base = series["healthz"]
    header = f"{'path':<8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    header += "   p50 / healthz  p95 / healthz"
    if cpu is not None:
        header += "  server CPU ms/req"
    print(header)
    for label, one in series.items():
        line = (
            f"{label:<8} {one.throughput:8.0f} {one.percentile(0.5):8.2f} "
            f"{one.percentile(0.95):8.2f} {one.percentile(0.99):8.2f}"
            f"   {one.percentile(0.5) / base.percentile(0.5):13.1f}"
            f"  {one.percentile(0.95) / base.percentile(0.95):13.1f}"
        )
        if cpu is not None:
            line += f"  {cpu[label] / len(one.latencies) * 1000:17.3f}"
        print(line)


async def measure_in_process(
    args: argparse.Namespace,
    settings: CatalogSettings,
    cases: list[dict[str, Any]],
    queries: list[str],
) -> None:
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
            paths = read_paths(queries)
            for targets in paths.values():  # warm every path once
                for path in targets:
                    await client.get(path)
            series = {label: Series(label, []) for label in paths}
            for _ in range(args.rounds):
                for label, targets in paths.items():
                    await timed_round(client, series[label], targets, args.seconds)
        index = app_state(app, CatalogState).catalog.snapshot.index
        raw = index_timings(index.search, queries, repeat=args.index_repeat)
    print("\nin process (httpx over ASGI, one request at a time):")
    report(series)
    print(
        f"\nsearch index alone (no HTTP), {len(queries)} queries x {args.index_repeat}: "
        f"{raw.throughput:.0f} searches/s, p50 {raw.percentile(0.5):.2f} ms, "
        f"p95 {raw.percentile(0.95):.2f} ms over {len(index)} items"
    )


# --- over HTTP ---------------------------------------------------------------------------------


def server_pids(pid: int) -> list[int]:
    """The uvicorn process and its workers (children), whose CPU time is the server's."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@contextlib.contextmanager
def catalog_server(url: str, tmp: Path, port: int, workers: int) -> Iterator[int]:
    """catalog-svc under uvicorn, started as ``make run`` starts it; yields its process id."""
    env = {
        **os.environ,
        "CATALOG_DATABASE_URL": url,
        "CATALOG_VAR_DIR": str(tmp),
        "CATALOG_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "catalog_svc.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning", "--workers", str(workers)]
    with (tmp / "catalog-server.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(
                    "catalog-svc exited:\n" + (tmp / "catalog-server.log").read_text()[-2000:]
                )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("catalog-svc did not become ready within 60 s")
            time.sleep(0.2)
        yield server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Connection:
    """One kept-alive HTTP/1.1 connection that sends GETs and reads answers with a
    Content-Length (every answer of the paths measured has one): a few microseconds of client
    work per request, where httpx spends hundreds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> int:
        """The status of ``GET path``; the body is read and dropped."""
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise SystemExit(f"{path}: an answer without Content-Length")
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


async def load_round(
    connections: Sequence[Connection], series: Series, paths: Sequence[str], seconds: float
) -> None:
    """Every connection sends requests one after another, cycling through ``paths`` from its
    own starting point, for about ``seconds``."""
    deadline = time.perf_counter() + seconds

    async def worker(connection: Connection, position: int) -> None:
        while time.perf_counter() < deadline:
            path = paths[position % len(paths)]
            position += 1
            begun = time.perf_counter()
            status = await connection.get(path)
            series.latencies.append(time.perf_counter() - begun)
            if status != 200:
                raise SystemExit(f"{path}: {status}")

    started = time.perf_counter()
    spread = max(1, len(paths) // len(connections))
    await asyncio.gather(
        *(worker(connection, n * spread) for n, connection in enumerate(connections))
    )
    series.seconds += time.perf_counter() - started


async def drive_over_http(
    args: argparse.Namespace,
    port: int,
    pids: Sequence[int],
    queries: Sequence[str],
    concurrency: int,
) -> tuple[dict[str, Series], dict[str, float]]:
    paths = read_paths(queries)
    connections = [await Connection.open(port) for _ in range(concurrency)]
    try:
        for targets in paths.values():  # warm every path once
            for path in targets:
                await connections[0].get(path)
        series = {label: Series(label, []) for label in paths}
        cpu = dict.fromkeys(paths, 0.0)
        for _ in range(args.rounds):
            for label, targets in paths.items():
                before = cpu_seconds(pids)
                await load_round(connections, series[label], targets, args.seconds)
                cpu[label] += cpu_seconds(pids) - before
    finally:
        for connection in connections:
            connection.close()
    return series, cpu


def client_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (uvicorn serves on it too): the cheaper load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def measure_over_http(
    args: argparse.Namespace, url: str, tmp: Path, queries: Sequence[str]
) -> None:
    port = free_port()
    with catalog_server(url, tmp, port, args.workers) as pid:
        pids = server_pids(pid)
        for concurrency in args.concurrency:

            def load(concurrency: int = concurrency) -> tuple[dict[str, Series], dict[str, float]]:
                with asyncio.Runner(loop_factory=client_loop) as runner:
                    return runner.run(drive_over_http(args, port, pids, queries, concurrency))

            # The load generator runs on a loop of its own, in a thread: this one stays
            # asyncio's.
            series, cpu = await asyncio.to_thread(load)
            print(
                f"\nover HTTP (uvicorn, {args.workers} worker(s)), {concurrency} kept-alive "
                f"connection(s) from this process, each sending one request after another:"
            )
            report(series, cpu)


def concurrency_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("connection counts like 1,8")
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog_search", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path, alternating")
    parser.add_argument("--index-repeat", type=int, default=10, help="passes over the queries")
    parser.add_argument(
        "--concurrency",
        type=concurrency_levels,
        default=[1, 8],
        help="connections of the HTTP measurement, one run per count (default 1,8: latency "
        "alone, then under load)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes serving catalog-svc"
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--http-only", action="store_true", help="skip the in-process measurement")
    only.add_argument("--in-process-only", action="store_true", help="skip the HTTP measurement")
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
