"""What the sweep of case-svc's material store costs, and that its memory does not grow with the
store (``python -m bench.material_sweep``).

For each ``--sizes`` N (10 thousand and 100 thousand by default): a fresh database migrated with
case-svc's own migrations holds N materials of N/5 cases, the local store (a temporary directory)
their N files and N/20 more that no material refers to (what failed uploads leave), each file a
few bytes (the sweep never reads a content). Then, one after the other: the store's listing
alone (the walk any sweep makes: the baseline), and the sweep (the same walk matched against
the materials streamed in key order, the orphans asked again and removed). For each: seconds,
and the peak of the Python allocations made meanwhile (``tracemalloc``); the sweep's time
against the walk's, and each one's peak against the smallest size's. What memory holds: a page
of materials, and a directory of the store at a time, whose top level holds a name per case
(sorted whole: a directory lists in no order), so it grows with the cases, never with the
materials held. (An S3 store lists a page at a time, in order.)

SQLite by default; ``--backend postgresql`` with ``ONEVISIT_TEST_POSTGRES_URL`` set (a database
of its own, dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from case_svc.materials.housekeeping import sweep
from case_svc.materials.storage import LocalDirectoryStore
from case_svc.models import Case, CaseMaterial
from case_svc.settings import CaseSettings
from servicekit.db import Database, utcnow
from servicekit.ids import new_id
from servicekit.migrations import upgrade_to_head

SERVICE_DIR = Path(__file__).resolve().parents[1] / "case-svc"
POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
GRACE = dt.timedelta(hours=1)
T = TypeVar("T")


@asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    """A migrated, empty case-svc database's URL."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'case-{secrets.token_hex(4)}.db'}"
        name = None
    else:
        name = f"ov_bench_sweep_{secrets.token_hex(4)}"
        admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        url = make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
    try:
        migrating = Database(url)
        async with migrating.engine.begin() as connection:
            await upgrade_to_head(connection, SERVICE_DIR)
        await migrating.dispose()
        yield url
    finally:
        if name is not None:
            admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


async def load(db: Database, store: LocalDirectoryStore, size: int) -> int:
    """N materials of N/5 cases, their files, and N/20 files of no material: how many."""
    now = utcnow()
    cases = [new_id() for _ in range(max(1, size // 5))]
    materials = [(cases[index % len(cases)], new_id()) for index in range(size)]
    orphans = [(cases[index % len(cases)], new_id()) for index in range(size // 20)]
    async with db.sessionmaker.begin() as session:
        for start in range(0, len(cases), 5000):
            await session.execute(
                insert(Case),
                [
                    {
                        "id": case_id,
                        "case_no": f"330302-bench-{start + offset:09d}",
                        "item_code": "bench.item",
                        "item_name": "bench",
                        "item_version": "1",
                        "processing_mode": "review",
                        "applicant_id": "bench",
                        "applicant_type": "citizen",
                        "applicant_region": "330302",
                        "department_id": "330302-bench",
                        "department_name": "bench",
                        "region_code": "330302",
                        "form": {},
                        "status": "submitted",
                        "submitted_at": now,
                        "updated_at": now,
                    }
                    for offset, case_id in enumerate(cases[start : start + 5000])
                ],
            )
        for start in range(0, size, 5000):
            await session.execute(
                insert(CaseMaterial),
                [
                    {
                        "id": material_id,
                        "case_id": case_id,
                        "name": "bench",
                        "content_type": "application/pdf",
                        "size": 10,
                        "sha256": "0" * 64,
                        "storage_key": f"{case_id}/{material_id}",
                        "uploaded_by": "bench",
                        "uploader_role": "applicant",
                        "uploaded_at": now,
                    }
                    for case_id, material_id in materials[start : start + 5000]
                ],
            )

    def write() -> None:
        for case_id, material_id in materials + orphans:
            path = store.path_of(f"{case_id}/{material_id}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"ov1.bench.x.y")

    await asyncio.to_thread(write)
    return len(orphans)


@dataclass
class Measured:
    seconds: float
    peak_bytes: int


async def measured(work: Callable[[], Awaitable[T]]) -> tuple[T, Measured]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = await work()
        seconds = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, Measured(seconds, peak)


async def bench_size(backend: str, tmp: Path, size: int) -> tuple[Measured, Measured]:
    async with database(backend, tmp) as url:
        settings = CaseSettings(database_url=url, var_dir=tmp)
        settings.install_sealing()
        db = Database(url)
        store = LocalDirectoryStore(tmp / f"materials-{size}")
        try:
            orphans = await load(db, store, size)

            async def walk() -> int:
                return sum([1 async for _ in store.objects()])

            async def swept() -> Any:
                async with db.sessionmaker() as session:
                    return await sweep(session, store, now=utcnow() + 2 * GRACE, grace=GRACE)

            listed, walking = await measured(walk)
            report, sweeping = await measured(swept)
        finally:
            await db.dispose()
    assert listed == size + orphans, listed
    assert len(report.removed) == orphans, report
    assert not report.missing, report
    return walking, sweeping


async def run(backend: str, sizes: list[int]) -> None:
    print(f"{backend}, local store; sizes {sizes}", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            walking, sweeping = await bench_size(backend, Path(directory), size)
            results.append((size, walking, sweeping))
            print(
                f"{size:>9,} materials: walk {walking.seconds:6.2f} s "
                f"(peak {walking.peak_bytes / 2**20:5.1f} MiB), sweep {sweeping.seconds:6.2f} s "
                f"(peak {sweeping.peak_bytes / 2**20:5.1f} MiB): sweep/walk "
                f"{sweeping.seconds / walking.seconds:.2f}x",
                flush=True,
            )
    _, first_walk, first_sweep = results[0]
    for size, walking, sweeping in results[1:]:
        print(
            f"peak at {size:,} against {results[0][0]:,}: walk "
            f"{walking.peak_bytes / first_walk.peak_bytes:.2f}x, sweep "
            f"{sweeping.peak_bytes / first_sweep.peak_bytes:.2f}x "
            f"(materials {size / results[0][0]:.0f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--sizes", default="10000,100000", help="materials in each round, comma-separated"
    )
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    asyncio.run(run(arguments.backend, sizes))


if __name__ == "__main__":
    main()
