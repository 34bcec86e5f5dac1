"""A citizen's case list and a department's work queue at growing sizes
(``python -m bench.case_queues``).

On PostgreSQL only (``ONEVISIT_TEST_POSTGRES_URL``; a fresh database, dropped after), migrated
with case-svc's own migrations. For each ``--sizes`` N (10 thousand, 100 thousand and 1 million
by default; ``--sizes 10000,100000,1000000,10000000`` for the 10-million point, which took 16
minutes to load on two shared cores: 9 to insert, 6.5 to index, and 11 GiB of disk):

1. The case table is filled with N cases and each case's first history row (its submission),
   written by ``INSERT ... SELECT FROM generate_series`` with the table's indexes and
   constraints dropped and made again after (the statements PostgreSQL itself prints for them,
   checked to come back the same), then ``VACUUM (ANALYZE)``, as autovacuum would soon after a
   bulk load. Two years of cases, newest last; 1,080 departments (90 counties × 12 types) and
   N/5 applicants, both skewed (index ``⌊k · u²⌋``: the busiest department gets some 3 % of all
   cases, the busiest applicant some N/√(N/5)); 40 % instant items (completed on filing, no
   promised time), the others promised 1-20 working days, three in four still open while
   within their time, 2 % still open past it when younger than 60 days and 0.2 % when older
   (the red ones), the rest ended (90 % completed). Every form is one sealed value made once by
   the column's own type, so every row reads as case-svc wrote it.
2. case-svc's app runs in this process with its real lifespan (``create_app``; tokens signed by
   a key the run holds, as case-svc's tests do; its deadline watch off: it would write), driven
   through ``httpx.ASGITransport`` one request at a time, in alternating rounds:
   ``GET /healthz`` and a ``SELECT 1`` round trip (the floors, the baseline); ``GET
   /cases/v1/cases`` for the busiest applicant (newest first); the busiest department's queue
   for one of its handlers, ``order=due``, and the same with ``deadline_colour=red``; and its
   counts, ``GET /cases/v1/queue`` (not among the targets: shown because the workbench shows
   them beside the queue). p50, p95 and p99 of each, p95 against the target of 20 ms, and
   each list's p95 at each size against the smallest size's.
3. ``EXPLAIN (ANALYZE, BUFFERS)`` of the statement each list sent (taken from the app's engine
   as it sent it, with its parameters), flagging a plan that does not read the case table
   through an index, and the rows an index scan read and threw away.

After the largest size: this process's peak RSS (``getrusage``), which holds case-svc's app.
The machine may be busy with other work: absolute figures move with it; the ratios to the
floors and across sizes are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import hashlib
import json
import os
import re
import resource
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.exchange_ledger import Round, drive, round_trips
from bench.outbox import fresh_databases
from case_svc.deps import CaseState
from case_svc.main import create_app
from case_svc.models import Case
from case_svc.settings import CaseSettings
from onevisit_dev.platform import REPO_ROOT
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.state import app_state
from servicekit.testing import TokenMinter

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
SERVICE_DIR = REPO_ROOT / "case-svc"
POPULATION = REPO_ROOT / "data-exchange-svc/data/population.csv"
TARGET_MS = 20.0
#: The tables the load writes, whose indexes and constraints are dropped during it.
LOADED = ('"case"', "case_event")
SPAN = dt.timedelta(days=730)
DEPARTMENT_TYPES = (
    "public_security",
    "human_resources_social_security",
    "housing_provident_fund",
    "market_regulation",
    "civil_affairs",
    "natural_resources",
    "health",
    "education",
    "taxation",
    "transport",
    "housing_urban_rural_development",
    "traffic_police",
)
#: Rows written per statement: the progress shows, the statement's RETURNING set stays small.
CHUNK = 1_000_000
#: Open statuses, by weight (twenty slots); ended ones are drawn in the statement itself.
OPEN_STATUSES = (
    ["submitted"] * 5
    + ["supplement_requested"]
    + ["accepted"] * 4
    + ["in_review"] * 5
    + ["suspended", "approval_pending", "denial_pending"]
    + ["approved"] * 2
)
_ID = (
    "(lpad(to_hex((extract(epoch FROM {at}) * 1000)::bigint), 12, '0') || '7'"
    " || substr({h}, 1, 3) || '8' || substr({h}, 4, 15))::uuid"
)
#: One chunk of cases ``:first .. :last`` of ``:n`` and their submission rows. A case's id is a
#: UUIDv7 of its submission time, as ``servicekit.ids`` makes them.
LOAD_CHUNK = """
WITH drawn AS (
    SELECT i,
           CAST(:now AS timestamptz)
               - make_interval(secs => CAST(:step AS float8) * (CAST(:n AS bigint) - i))
               AS submitted_at,
           floor(CAST(:departments AS float8) * random() ^ 2)::int AS department,
           floor(CAST(:applicants AS float8) * random() ^ 2)::bigint AS applicant,
           random() AS r_mode, random() AS r_days, random() AS r_open, random() AS r_status
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g(i)
), timed AS (
    SELECT *,
           CASE WHEN r_mode >= 0.4 THEN
               submitted_at + make_interval(secs => (1 + floor(r_days * 20)) * 1.4 * 86400)
           END AS due_at
    FROM drawn
), placed AS (
    SELECT *,
           CASE
               WHEN due_at IS NULL THEN 'completed'
               WHEN (due_at > CAST(:now AS timestamptz) AND r_open < 0.75)
                    OR (due_at <= CAST(:now AS timestamptz) AND r_open < CASE
                        WHEN submitted_at > CAST(:now AS timestamptz) - interval '60 days'
                        THEN 0.02 ELSE 0.002 END)
                   THEN (CAST(:open_statuses AS text[]))[1 + floor(r_status * 20)::int]
               WHEN r_status < 0.90 THEN 'completed'
               WHEN r_status < 0.94 THEN 'denied'
               WHEN r_status < 0.97 THEN 'not_accepted'
               ELSE 'withdrawn'
           END AS status,
           (CAST(:counties AS text[]))[1 + department % 90] AS county,
           (CAST(:types AS text[]))[1 + department / 90] AS department_type
    FROM timed
), cases AS (
    INSERT INTO "case" (
        id, case_no, item_code, item_name, item_version, processing_mode, applicant_id,
        applicant_type, actor_id, applicant_region, department_id, department_name,
        region_code, form, status, decision_approval, assignee_id, claimed_at, reviewer_id,
        version, submitted_at, updated_at, completed_at, due_at, warn_at,
        statutory_working_days, statutory_due_at, intake_due_at, overdue_at, clock_paused_at,
        due_at_provisional
    )
    SELECT
        {case_id},
        county || '-' || to_char(submitted_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
            || '-' || lpad((i % 1000000)::text, 6, '0'),
        department_type || '.item_' || (department % 7),
        '合成事项 ' || department_type || ' ' || (department % 7),
        '1',
        CASE WHEN due_at IS NULL THEN 'instant' ELSE 'review' END,
        md5('applicant' || applicant)::uuid::text,
        'citizen',
        NULL,
        county || '001001',
        county || '-' || department_type,
        '合成部门 ' || county || '-' || department_type,
        county,
        CAST(:form AS json),
        status,
        'single',
        CASE WHEN status IN ('supplement_requested', 'accepted', 'in_review', 'suspended',
                             'approval_pending', 'denial_pending', 'approved')
             THEN 'handler-' || department || '-' || floor(r_days * 8) END,
        CASE WHEN status IN ('supplement_requested', 'accepted', 'in_review', 'suspended',
                             'approval_pending', 'denial_pending', 'approved')
             THEN submitted_at + interval '2 hours' END,
        NULL,
        CASE WHEN status = 'submitted' THEN 1 ELSE 3 END,
        submitted_at,
        submitted_at + CASE WHEN due_at IS NULL THEN interval '0' ELSE interval '2 hours' END,
        CASE WHEN status = 'completed'
             THEN coalesce(submitted_at + (due_at - submitted_at) * 0.7, submitted_at) END,
        due_at,
        submitted_at + (due_at - submitted_at) * 0.8,
        CASE WHEN due_at IS NOT NULL THEN 20 END,
        CASE WHEN due_at IS NOT NULL AND status <> 'submitted'
             THEN submitted_at + interval '28 days' END,
        CASE WHEN status = 'submitted' THEN submitted_at + interval '7 days' END,
        CASE WHEN due_at <= CAST(:now AS timestamptz)
                  AND status NOT IN ('completed', 'denied', 'not_accepted', 'withdrawn',
                                     'supplement_requested', 'suspended')
             THEN due_at + interval '1 minute' END,
        CASE WHEN status IN ('supplement_requested', 'suspended')
             THEN submitted_at + (due_at - submitted_at) * 0.3 END,
        false
    FROM placed
    RETURNING id, applicant_id, submitted_at
)
INSERT INTO case_event (id, case_id, seq, action, from_status, status, actor_id, actor_role,
                        acting_for, clock, detail, note, at)
SELECT {event_id}, id, 1, 'submit', NULL, 'submitted', applicant_id, 'applicant', NULL,
       'running', NULL, NULL, submitted_at
FROM cases
""".format(
    case_id=_ID.format(at="submitted_at", h="md5(i::text)"),
    event_id=_ID.format(at="submitted_at", h="md5(id::text)"),
)


def counties() -> list[str]:
    """The 90 counties of the synthetic population (real region codes)."""
    with POPULATION.open(encoding="utf-8", newline="") as rows:
        return sorted({row["registered_region"][:6] for row in csv.DictReader(rows)})


#: The busiest department (department 0) and applicant (applicant 0) of the load.
BUSIEST_APPLICANT = str(uuid.UUID(hashlib.md5(b"applicant0").hexdigest()))


def busiest_department() -> str:
    return f"{counties()[0]}-{DEPARTMENT_TYPES[0]}"


@dataclass
class Load:
    size: int
    insert_seconds: float = 0.0
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    table_bytes: int = 0
    index_bytes: int = 0

    @property
    def seconds(self) -> float:
        return self.insert_seconds + self.index_seconds + self.vacuum_seconds


async def _structure(connection: AsyncConnection) -> tuple[list[str], list[str], list[str]]:
    """How to make the loaded tables' keys, indexes and foreign keys again, and how to drop
    them all (foreign keys first), as PostgreSQL prints them."""
    tables = ", ".join(f"'{name}'::regclass" for name in LOADED)
    constraints = (
        await connection.execute(
            text(
                "SELECT conrelid::regclass::text, quote_ident(conname), contype::text,"
                " pg_get_constraintdef(oid) FROM pg_constraint"
                f" WHERE contype IN ('p', 'u', 'f') AND (conrelid IN ({tables})"
                f" OR confrelid IN ({tables})) ORDER BY contype DESC, conname"
            )
        )
    ).all()
    indexes = (
        await connection.execute(
            text(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
                f" WHERE indrelid IN ({tables}) AND NOT EXISTS"
                " (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)"
                " ORDER BY 1"
            )
        )
    ).all()
    keys = [
        f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, kind, d in constraints if kind != "f"
    ]
    foreign = [
        f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, kind, d in constraints if kind == "f"
    ]
    drops = [f"ALTER TABLE {t} DROP CONSTRAINT {n}" for t, n, kind, _ in constraints if kind == "f"]
    drops += [f"DROP INDEX {name}" for name, _ in indexes]
    drops += [
        f"ALTER TABLE {t} DROP CONSTRAINT {n}" for t, n, kind, _ in constraints if kind != "f"
    ]
    return drops, keys + [definition for _, definition in indexes], foreign


def _names(statements: list[str]) -> list[str]:
    """The index or constraint each ``CREATE INDEX`` / ``ADD CONSTRAINT`` statement makes."""
    return sorted(
        statement.split(" ON ", 1)[0]
        if statement.startswith("CREATE")
        else statement.split(" ADD CONSTRAINT ", 1)[1].split(" ", 1)[0]
        for statement in statements
    )


async def load(database: Database, size: int, *, form: str) -> Load:
    """Replace the cases with ``size`` new ones (see the module's docstring)."""
    loaded = Load(size)
    now = dt.datetime.now(dt.UTC)
    parameters: dict[str, Any] = {
        "now": now,
        "step": SPAN.total_seconds() / size,
        "n": size,
        "departments": 90 * len(DEPARTMENT_TYPES),
        "applicants": max(size // 5, 100),
        "open_statuses": OPEN_STATUSES,
        "counties": counties(),
        "types": list(DEPARTMENT_TYPES),
        "form": form,
    }
    async with database.engine.begin() as connection:
        await connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        await connection.execute(text("SET LOCAL synchronous_commit = off"))
        drops, remake, foreign = await _structure(connection)
        # CASCADE: the tables that refer to cases (materials) are emptied with them; they hold
        # nothing here.
        await connection.execute(text(f"TRUNCATE {', '.join(LOADED)} CASCADE"))
        for statement in drops:
            await connection.execute(text(statement))
        started = time.perf_counter()
        for first in range(1, size + 1, CHUNK):
            last = min(size, first + CHUNK - 1)
            await connection.execute(text(LOAD_CHUNK), {**parameters, "first": first, "last": last})
            if size > CHUNK:
                print(f"    {last:>11,} cases written", flush=True)
        loaded.insert_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for statement in remake + foreign:
            await connection.execute(text(statement))
        loaded.index_seconds = time.perf_counter() - started
        again = await _structure(connection)
        # By name: PostgreSQL prints a partial index's predicate differently once it has
        # parsed its own printout (the casts move), though the index is the same.
        if _names(again[1] + again[2]) != _names(remake + foreign):
            raise RuntimeError("the tables' indexes did not come back as they were")
    async with database.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        started = time.perf_counter()
        await connection.execute(text('VACUUM (ANALYZE) "case", case_event'))
        loaded.vacuum_seconds = time.perf_counter() - started
        sizes = await connection.execute(
            text(
                "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid))"
                " FROM pg_stat_user_tables WHERE relname IN ('case', 'case_event')"
            )
        )
        loaded.table_bytes, loaded.index_bytes = (int(value) for value in sizes.one())
    return loaded


def sealed_form(settings: CaseSettings) -> str:
    """One form, sealed once by the form column's own type (as case-svc seals every form), as
    the JSON the column stores."""
    settings.install_sealing()
    form = {"name": "林秀英", "id_number": "330302195203140248", "contact_phone": "13957700000"}
    column_type: Any = Case.__table__.c.form.type
    sealed: str = column_type.process_bind_param(form, None)
    return json.dumps(sealed)


@dataclass
class Read:
    label: str
    title: str
    path: str
    params: dict[str, str]
    #: Whose token: "citizen" or "handler".
    caller: str
    #: A list whose plan is shown and held to the target.
    listed: bool = True
    rounds: list[Round] = field(default_factory=list)


def reads() -> list[Read]:
    return [
        Read("citizen", "her cases, newest first", "/cases/v1/cases", {}, "citizen"),
        Read("queue", "queue, order=due", "/cases/v1/cases", {"order": "due"}, "handler"),
        Read(
            "red",
            "queue, order=due, red",
            "/cases/v1/cases",
            {"order": "due", "deadline_colour": "red"},
            "handler",
        ),
        Read("counts", "queue counts (no target)", "/cases/v1/queue", {}, "handler", False),
    ]


@asynccontextmanager
async def sent_statements(engine: AsyncEngine) -> AsyncIterator[list[tuple[str, Any]]]:
    """The statements sent through ``engine`` while open, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def scans_of_case(plan: list[str]) -> list[str]:
    """The plan's nodes that read the case table."""
    return [line.strip() for line in plan if re.search(r' on "?case"?( |$)', line)]


@dataclass
class Measured:
    load: Load
    reads: list[Read]
    floors: dict[str, list[Round]]
    plans: dict[str, list[str]]
    pages: dict[str, str]


async def measure(url: str, tmp: Path, loaded: Load, *, seconds: float, rounds: int) -> Measured:
    minter = TokenMinter()
    settings = CaseSettings(
        database_url=url,
        environment="test",
        var_dir=tmp,
        log_level="WARNING",
        log_json=True,
        deadline_watch_seconds=0,
        freeze_startup_objects=False,
    )
    department = busiest_department()
    tokens = {
        "citizen": minter.mint(BUSIEST_APPLICANT, typ="citizen", loa=2),
        "handler": minter.mint(
            "handler-bench", typ="staff", loa=2, dept=department, roles=("handler",)
        ),
    }
    chosen = reads()
    floors: dict[str, list[Round]] = {"healthz": [], "select 1": []}
    plans: dict[str, list[str]] = {}
    pages: dict[str, str] = {}
    app = create_app(settings, jwks=minter.jwks)
    async with app.router.lifespan_context(app):
        engine: AsyncEngine = app_state(app, CaseState).database.engine
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            def sender(read: Read) -> Callable[[], Awaitable[httpx.Response]]:
                headers = {"Authorization": f"Bearer {tokens[read.caller]}"}

                async def send() -> httpx.Response:
                    return await client.get(read.path, params=read.params, headers=headers)

                return send

            async def healthz() -> httpx.Response:
                return await client.get("/healthz")

            for read in chosen:  # warm the pool, the caches, and take each list's statement
                async with sent_statements(engine) as sent:
                    answer = await sender(read)()
                answer.raise_for_status()
                pages[read.label] = page_summary(answer.json())
                if read.listed:
                    statement, parameters = next(
                        (s, p) for s, p in sent if s.lstrip().startswith("SELECT")
                    )
                    plans[read.label] = await explain(engine, statement, parameters)
            for _ in range(rounds):
                share = seconds / rounds
                floors["healthz"].append(await drive(healthz, 1, share))
                floors["select 1"].append(await round_trips(engine, 1, share))
                for read in chosen:
                    read.rounds.append(await drive(sender(read), 1, share))
    return Measured(loaded, chosen, floors, plans, pages)


def page_summary(body: dict[str, Any]) -> str:
    """What the first page held: its items by status and colour."""
    items = body.get("items")
    if items is None:
        return f"{body.get('open')} open, by colour {body.get('by_deadline_colour')}"
    ended = sum(
        item["status"] in ("completed", "denied", "not_accepted", "withdrawn") for item in items
    )
    red = sum(item["deadline_colour"] == "red" for item in items)
    return f"{len(items)} items, {ended} ended, {red} red"


async def explain(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        )
        return [line for (line,) in result]


def merged(rounds: list[Round]) -> Round:
    return Round(
        [latency for r in rounds for latency in r.latencies],
        sum(r.errors for r in rounds),
        sum(r.seconds for r in rounds),
    )


def report_size(measured: Measured) -> None:
    loaded = measured.load
    print(
        f"\n{loaded.size:,} cases: loaded in {loaded.seconds:.1f} s (insert"
        f" {loaded.insert_seconds:.1f}, indexes {loaded.index_seconds:.1f}, vacuum analyze"
        f" {loaded.vacuum_seconds:.1f}); tables {loaded.table_bytes / 2**20:,.0f} MiB,"
        f" indexes {loaded.index_bytes / 2**20:,.0f} MiB"
    )
    healthz = merged(measured.floors["healthz"])
    for label, rounds in measured.floors.items():
        floor = merged(rounds)
        print(
            f"  {label + ' (floor)':30s} p50 {floor.percentile(0.5):6.2f}"
            f"  p95 {floor.percentile(0.95):6.2f}  p99 {floor.percentile(0.99):6.2f} ms"
        )
    for read in measured.reads:
        timed = merged(read.rounds)
        p95 = timed.percentile(0.95)
        verdict = "" if not read.listed else ("  ≤ 20 ms" if p95 <= TARGET_MS else "  > 20 ms!")
        print(
            f"  {read.title:30s} p50 {timed.percentile(0.5):6.2f}  p95 {p95:6.2f}"
            f"  p99 {timed.percentile(0.99):6.2f} ms  ×{p95 / healthz.percentile(0.95):5.1f}"
            f" /healthz p95{verdict}   errors {timed.errors}   ({measured.pages[read.label]})"
        )
    for read in measured.reads:
        if not read.listed:
            continue
        plan = measured.plans[read.label]
        print(f"\n  plan of {read.title} (EXPLAIN ANALYZE, BUFFERS):")
        for line in plan:
            print(f"    {line}")
        scans = scans_of_case(plan)
        if not any(
            scan.lstrip("-> ").startswith(("Index Scan", "Index Only Scan")) for scan in scans
        ):
            print(f"    !! the case table is not read through an index scan: {scans}")


def report_sizes(results: list[Measured]) -> None:
    print("\np95 (ms) by size, and against the smallest size:")
    names = [read.title for read in results[0].reads]
    print(f"  {'cases':>12s}" + "".join(f"{name[:26]:>28s}" for name in names))
    first = {read.label: merged(read.rounds).percentile(0.95) for read in results[0].reads}
    for measured in results:
        cells = ""
        for read in measured.reads:
            p95 = merged(read.rounds).percentile(0.95)
            cells += f"{p95:17.2f} (×{p95 / first[read.label]:5.2f})"
        print(f"  {measured.load.size:>12,}" + cells)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    print(
        f"\nthis process (case-svc's app, in process, and the load generator): peak RSS"
        f" {peak:,.0f} MiB, now {current:,.0f} MiB, after {results[-1].load.size:,} cases"
    )


async def run(args: argparse.Namespace) -> None:
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-queues-") as tmp:
        async with fresh_databases(os.environ[POSTGRES_ENV], "case", prefix="bench_queues") as urls:
            url = urls["case"]
            database = Database(url)
            try:
                async with database.engine.begin() as connection:
                    await upgrade_to_head(connection, SERVICE_DIR)
                form = sealed_form(CaseSettings(database_url=url, var_dir=Path(tmp)))
                results = []
                for size in sizes:
                    print(f"loading {size:,} cases ...", flush=True)
                    loaded = await load(database, size, form=form)
                    measured = await measure(
                        url, Path(tmp), loaded, seconds=args.seconds, rounds=args.rounds
                    )
                    report_size(measured)
                    results.append(measured)
            finally:
                await database.dispose()
    report_sizes(results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.case_queues", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="cases at each point (10000000 as well: some 16 minutes to load, 11 GiB)",
    )
    parser.add_argument(
        "--seconds", type=float, default=6.0, help="per read and size, over all its rounds"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.environ.get(POSTGRES_ENV):
        print(f"skipped: the queues are measured on PostgreSQL; set {POSTGRES_ENV}")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
