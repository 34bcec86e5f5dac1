"""What filing an application costs, through the gateway on PostgreSQL
(``python -m bench.case_submissions``).

The whole platform on free ports, every service on a fresh PostgreSQL database of its own
(``ONEVISIT_TEST_POSTGRES_URL`` names the server; the databases are dropped after), the gateway
without its per-address limits on sign-ins (``bench.identity_tokens``), and case-svc told of
one subscriber per event type, so that every submission writes its outbox rows as it does
where someone subscribes (no relay runs: it is switched off here, the rows wait; the launcher
gives case-svc its client secret, and a relay posting to nobody would be measured with the
submissions).

``--citizens`` people of the synthetic population (each from another county, so that their
cases go to as many departments, each with its own case-number counter) register, claim their
real name and match their face, as the app makes them do, then file the instant
``human_resources_social_security.social_card_loss_report`` (min_loa 2; the form names her
phone, case-svc fills in her verified name and ID number) through the gateway, driven by wrk
(``case_submission.lua``: the citizens in turn, a fresh ``Idempotency-Key`` each,
``--connections`` at once). In alternating rounds after an uncounted one:

1. ``X-Region-Code`` sent, naming her handling department's region, as the app sends it (the
   headline): gateway, case-svc, and from case-svc through the gateway to catalog-svc twice
   (item, handler) and identity-svc once (her verified identity);
2. without it: case-svc files it through the gateway once more, at itself (one instance
   serves every region here);
3. the baseline: the rows case-svc wrote for one of the cases (the case, its history, its
   outbox rows), inserted again as they are (new ids), one transaction per case, the same
   number at once, from this process into the same database.

Prints cases per second, wrk's p50 and p99 (the baseline's own), the ratios, each process's
CPU per case (and PostgreSQL's: the server processes serving this run's databases, from
/proc), and the rows each submission left in each of case-svc's tables.

Everything shares the machine's two cores (and the machine may be busy with other work):
absolute figures move with it; the same-run ratios and the CPU per case are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.exchange_ledger import Round
from bench.identity_tokens import routes_without_address_limits
from bench.outbox import fresh_databases
from bench.proc import cpu_seconds
from bench.wrk import Run, ensure_tools, wrk
from case_svc.events import EVENT_TYPES
from data_exchange_svc.registry.faces import simulated_capture, template_from_seed
from onevisit_dev.callers import (
    Citizen,
    Person,
    claim_real_name,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import REPO_ROOT, SERVICES, Platform, PlatformConfig, running_platform
from servicekit.db import Database
from servicekit.ids import new_id

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
POPULATION = REPO_ROOT / "data-exchange-svc/data/population.csv"
SCRIPT = Path(__file__).with_name("case_submission.lua")
ITEM = "human_resources_social_security.social_card_loss_report"
SUBMISSION = {"item_code": ITEM, "form": {"contact_phone": "13957700000"}}
#: Where case-svc addresses its events here: one subscriber per type, nobody listening.
SUBSCRIBER = "/bench/v1/case-events"
#: The tables a submission writes to, in the order they are counted.
CASE_TABLES = ("case", "case_event", "outbox_event", "idempotency_record")
#: How long wrk waits for an answer (its default, 2 s, is less than a queued submission takes).
WRK_TIMEOUT_SECONDS = 30
LABELS = {
    "routed": "submission, X-Region-Code sent",
    "forwarded": "submission, without X-Region-Code",
}


@dataclass(frozen=True)
class Applicant:
    citizen: Citizen
    person: Person
    #: Her handling department's region: the X-Region-Code the app sends.
    department_region: str


def people(count: int) -> list[tuple[Person, str]]:
    """Adults of the synthetic population, each from another county, with the region they are
    registered in (their face as the phone would capture it: the registry's template plus a
    little noise)."""
    chosen: dict[str, tuple[Person, str]] = {}
    with POPULATION.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            county = row["registered_region"][:6]
            if county in chosen or row["birth_date"] > "2000":
                continue
            seed = int(row["face_seed"])
            face = simulated_capture(template_from_seed(seed), noise_seed=seed + 1, noise=0.022)
            chosen[county] = Person(row["name"], row["id_number"], face), row["registered_region"]
            if len(chosen) == count:
                break
    return list(chosen.values())


def enrol(gateway_url: str, var_dir: Path, count: int) -> list[Applicant]:
    """Citizens who can file: registered, real name claimed and bound by a face match; each
    with the region of the department that handles the item for her."""
    applicants = []
    with httpx.Client(base_url=gateway_url, timeout=30.0) as gateway:
        for person, region in people(count):
            citizen = register_citizen(gateway, var_dir)
            token = citizen.sign_in(gateway)
            claim_real_name(gateway, token, person)
            verify_face(gateway, token, person)
            handler = gateway.get(f"/catalog/v1/items/{ITEM}/handler", params={"region": region})
            handler.raise_for_status()
            department_region = handler.json()["department"]["region_code"]
            applicants.append(Applicant(citizen, person, department_region))
    return applicants


def signed_in(gateway_url: str, applicants: Sequence[Applicant]) -> list[str]:
    """A fresh access token of each (they live ten minutes)."""
    with httpx.Client(base_url=gateway_url, timeout=30.0) as gateway:
        return [applicant.citizen.sign_in(gateway) for applicant in applicants]


def submit_once(gateway_url: str, token: str, region: str | None) -> str:
    """One application, checked: its case number."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    if region is not None:
        headers["X-Region-Code"] = region
    response = httpx.post(
        f"{gateway_url}/cases/v1/cases", json=SUBMISSION, headers=headers, timeout=30.0
    )
    if response.status_code != 201:
        raise SystemExit(f"a submission was refused: {response.status_code} {response.text}")
    case_no: str = response.json()["case_no"]
    return case_no


async def server_pids(engine: AsyncEngine, databases: Sequence[str]) -> list[int]:
    """The PostgreSQL server processes connected to ``databases`` now."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:names)"),
            {"names": list(databases)},
        )
        return [int(pid) for (pid,) in rows]


def cpu_of(pids: Sequence[int]) -> dict[int, float]:
    """The CPU seconds of each process still running."""
    used = {}
    for pid in pids:
        try:
            used[pid] = cpu_seconds([pid])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return used


async def settled(engine: AsyncEngine) -> None:
    """Until the submissions wrk left in flight at the end of its round are answered (nothing
    new filed for a second), so that the rows counted are whole cases'."""
    cases = -1
    while (now := (await row_counts(engine))["case"]) != cases:
        cases = now
        await asyncio.sleep(1.0)


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table: int(
                (await connection.exec_driver_sql(f'SELECT count(*) FROM "{table}"')).scalar_one()
            )
            for table in CASE_TABLES
        }


class BareInsert:
    """The rows case-svc wrote for one case (the case, its history, its outbox rows), inserted
    again as they are stored (its form and notes sealed as they were) with new ids: what the
    database alone costs a submission."""

    def __init__(self, engine: AsyncEngine, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.engine = engine
        self.rows = rows
        self.statements = {
            table: 'INSERT INTO "{}" ({}) VALUES ({})'.format(
                table,
                ", ".join(f'"{column}"' for column in found[0]),
                ", ".join(f"${n}" for n in range(1, len(found[0]) + 1)),
            )
            for table, found in rows.items()
            if found
        }
        self.inserted = 0

    @classmethod
    async def of(cls, engine: AsyncEngine, case_no: str) -> BareInsert:
        async with engine.connect() as connection:

            async def rows(sql: str, *parameters: Any) -> list[dict[str, Any]]:
                result = await connection.exec_driver_sql(sql, parameters)
                return [dict(row._mapping) for row in result]

            (case,) = await rows('SELECT * FROM "case" WHERE case_no = $1', case_no)
            history = await rows("SELECT * FROM case_event WHERE case_id = $1", case["id"])
            # The outbox's seq is the table's own (an identity): the copies get theirs.
            outbox = await rows("SELECT * FROM outbox_event WHERE subject = $1", str(case["id"]))
            for row in outbox:
                del row["seq"]
            # The driver reads JSON columns decoded and takes them encoded: as stored, again.
            json_columns = await rows(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE data_type IN ('json', 'jsonb') AND table_schema = 'public'"
            )
        for column in json_columns:
            for row in {"case": [case], "case_event": history}.get(column["table_name"], []):
                name = column["column_name"]
                row[name] = None if row[name] is None else json.dumps(row[name])
        return cls(engine, {"case": [case], "case_event": history, "outbox_event": outbox})

    def _copy(self) -> dict[str, list[tuple[Any, ...]]]:
        self.inserted += 1
        case_id = new_id()
        (case,) = self.rows["case"]
        # Another number of the same length in the same region and day.
        case_no = f"{case['case_no'][:16]}{self.inserted % 1_000_000:06d}b"
        copies = {"case": [tuple({**case, "id": case_id, "case_no": case_no}.values())]}
        copies["case_event"] = [
            tuple({**row, "id": new_id(), "case_id": case_id}.values())
            for row in self.rows["case_event"]
        ]
        copies["outbox_event"] = [
            tuple({**row, "event_id": new_id(), "subject": str(case_id)}.values())
            for row in self.rows["outbox_event"]
        ]
        return copies

    async def drive(self, concurrency: int, seconds: float) -> Round:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                copies = self._copy()
                started = time.perf_counter()
                async with self.engine.begin() as connection:
                    for table, statement in self.statements.items():
                        if len(copies[table]) == 1:
                            await connection.exec_driver_sql(statement, copies[table][0])
                        elif copies[table]:
                            await connection.exec_driver_sql(statement, copies[table])
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Round(latencies, 0, time.perf_counter() - started)


@dataclass
class Measured:
    """One round of one path: its throughput and latency, the CPU each process spent, the rows
    each of case-svc's tables gained."""

    throughput: float
    p50_ms: float
    p99_ms: float
    cases: int
    cpu_seconds: dict[str, float]
    rows: dict[str, int]

    def cpu_ms(self, name: str) -> float:
        return self.cpu_seconds.get(name, 0.0) / max(self.cases, 1) * 1000


class Bench:
    def __init__(
        self,
        platform: Platform,
        applicants: list[Applicant],
        case_db: Database,
        database_names: list[str],
        args: argparse.Namespace,
    ) -> None:
        self.platform = platform
        self.applicants = applicants
        self.case_db = case_db
        self.database_names = database_names
        self.args = args
        #: What the baseline inserts per case, by table.
        self.bare_rows: dict[str, int] = {}

    def _cpu(self, server: list[int]) -> tuple[dict[str, float], dict[int, float]]:
        processes = {name: cpu_seconds([p.pid]) for name, p in self.platform.processes.items()}
        return processes, cpu_of(server)

    async def _measured(
        self, before: tuple[dict[str, float], dict[int, float]]
    ) -> dict[str, float]:
        """The CPU each process used since ``before``; PostgreSQL's server processes of this
        run's databases together, those the pools opened meanwhile counted whole."""
        processes, postgres = before
        now, server = self._cpu(await server_pids(self.case_db.engine, self.database_names))
        used = {name: now[name] - processes[name] for name in processes}
        used["postgres"] = sum(spent - postgres.get(pid, 0.0) for pid, spent in server.items())
        return used

    async def wrk_round(self, label: str, tokens: list[str], seconds: int) -> Measured:
        engine = self.case_db.engine
        server = await server_pids(engine, self.database_names)
        rows = await row_counts(engine)
        cpu = self._cpu(server)
        arguments = [
            json.dumps(SUBMISSION),
            secrets.token_hex(6),
            "1" if label == "routed" else "0",
        ]
        for token, applicant in zip(tokens, self.applicants, strict=True):
            arguments += [token, applicant.department_region]
        run: Run = await asyncio.to_thread(
            wrk,
            label,
            f"{self.platform.config.gateway_url}/cases/v1/cases",
            connections=self.args.connections,
            seconds=seconds,
            cpu_pids=[],
            script=SCRIPT,
            script_args=tuple(arguments),
            timeout=WRK_TIMEOUT_SECONDS,
        )
        used = await self._measured(cpu)
        await settled(engine)
        after = await row_counts(engine)
        if run.non_2xx:
            raise SystemExit(f"{label}: {run.non_2xx} submissions were refused")
        return Measured(
            run.throughput,
            run.p50 * 1000,
            run.p99 * 1000,
            run.requests,
            used,
            {table: after[table] - rows[table] for table in CASE_TABLES},
        )

    async def bare_round(self, bare: BareInsert, seconds: float) -> Measured:
        server = await server_pids(self.case_db.engine, self.database_names)
        cpu = self._cpu(server)
        process = time.process_time()
        result = await bare.drive(self.args.connections, seconds)
        used = await self._measured(cpu)
        used["this process"] = time.process_time() - process
        return Measured(
            result.throughput,
            result.percentile(0.50),
            result.percentile(0.99),
            len(result.latencies),
            used,
            {},
        )

    async def run(self) -> dict[str, list[Measured]]:
        gateway = self.platform.config.gateway_url
        tokens = await asyncio.to_thread(signed_in, gateway, self.applicants)
        # Each citizen files once each way, checked, before wrk does it by the thousand.
        for token, applicant in zip(tokens, self.applicants, strict=True):
            case_no = await asyncio.to_thread(
                submit_once, gateway, token, applicant.department_region
            )
            await asyncio.to_thread(submit_once, gateway, token, None)
        bare = await BareInsert.of(self.case_db.engine, case_no)
        self.bare_rows = {table: len(rows) for table, rows in bare.rows.items()}
        results: dict[str, list[Measured]] = {"routed": [], "forwarded": [], "bare": []}
        for number in range(self.args.rounds + 1):  # the first round warms up, uncounted
            seconds = 2 if number == 0 else self.args.seconds
            tokens = await asyncio.to_thread(signed_in, gateway, self.applicants)
            for label in ("routed", "forwarded"):
                measured = await self.wrk_round(label, tokens, seconds)
                if number:
                    results[label].append(measured)
            measured = await self.bare_round(bare, seconds)
            if number:
                results["bare"].append(measured)
                print(
                    f"  round {number}: "
                    + ", ".join(
                        f"{label} {r[-1].throughput:.0f}/s" for label, r in results.items()
                    ),
                    flush=True,
                )
        return results


def report(
    results: dict[str, list[Measured]], bare_rows: dict[str, int], args: argparse.Namespace
) -> None:
    def median(values: Sequence[float]) -> float:
        middle: float = statistics.median(values)
        return middle

    print(
        f"\n{ITEM} filed by {args.citizens} face-verified citizens through the gateway,"
        f" PostgreSQL, wrk -c{args.connections}, {args.rounds} alternating rounds of"
        f" {args.seconds} s (medians of rounds):"
    )
    bare = median([r.throughput for r in results["bare"]])
    print(
        f"  {'bare insert of its rows (baseline)':40s} {bare:7.0f} cases/s"
        f"   p50 {median([r.p50_ms for r in results['bare']]):6.1f} ms"
        f"   p99 {median([r.p99_ms for r in results['bare']]):6.1f} ms"
    )
    for label, title in LABELS.items():
        mine = results[label]
        throughput = median([r.throughput for r in mine])
        print(
            f"  {title:40s} {throughput:7.0f} cases/s"
            f"   p50 {median([r.p50_ms for r in mine]):6.1f} ms"
            f"   p99 {median([r.p99_ms for r in mine]):6.1f} ms"
            f"   ×{throughput / bare:.3f} bare insert   target ≥ 500/s: ×{throughput / 500:.2f}"
        )
    names = [*(spec.name for spec in SERVICES), "gateway", "postgres"]
    print("\n  CPU per case (ms, median of rounds):")
    print("  " + " " * 40 + "".join(f"{name:>10s}" for name in names))
    for label, title in LABELS.items():
        cells = "".join(
            f"{median([r.cpu_ms(name) for r in results[label]]):10.2f}" for name in names
        )
        print(f"  {title:40s}{cells}")
    own = median([r.cpu_ms("this process") for r in results["bare"]])
    postgres = median([r.cpu_ms("postgres") for r in results["bare"]])
    print(
        f"  {'bare insert (this process; postgres)':40s}{own:10.2f} (this process){postgres:10.2f}"
        " (postgres)"
    )
    print(
        "  (postgres: the server processes connected to this run's databases; wrk and this"
        " process are not counted in the submissions' rows)"
    )
    print("\n  rows each case left in case-svc's tables (counted rounds):")
    for label, title in LABELS.items():
        cases = sum(r.rows["case"] for r in results[label])
        per_case = ", ".join(
            f"{table} {sum(r.rows[table] for r in results[label]) / max(cases, 1):.2f}"
            for table in CASE_TABLES
        )
        print(f"  {title:40s} {per_case}")
    copied = ", ".join(f"{table} {count}" for table, count in bare_rows.items())
    print(f"  {'bare insert':40s} {copied}")


async def run(args: argparse.Namespace) -> None:
    owners = [spec.name for spec in SERVICES]
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-cases-") as tmp:
        directory = Path(tmp)
        async with fresh_databases(os.environ[POSTGRES_ENV], *owners, prefix="bench_cases") as urls:
            config = PlatformConfig.on_free_ports(directory)
            config.log_level = "WARNING"
            config.database_urls.update(urls)
            config.extra_env["GATEWAY_ROUTES_FILE"] = str(routes_without_address_limits(directory))
            config.extra_env["CASE_EVENT_SUBSCRIBERS"] = json.dumps(
                {kind: [SUBSCRIBER] for kind in EVENT_TYPES}
            )
            # The rows wait: delivering them is the relay's cost, not the submissions'.
            config.extra_env["CASE_OUTBOX_RELAY_ENABLED"] = "false"
            names = [url.rsplit("/", 1)[1] for url in urls.values()]
            print("starting the platform on PostgreSQL on free ports ...", flush=True)
            with running_platform(config) as platform:
                print(f"enrolling {args.citizens} citizens ...", flush=True)
                applicants = await asyncio.to_thread(
                    enrol, config.gateway_url, config.var_dir, args.citizens
                )
                case_db = Database(urls["case"])
                try:
                    bench = Bench(platform, applicants, case_db, names, args)
                    results = await bench.run()
                finally:
                    await case_db.dispose()
    report(results, bench.bare_rows, args)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.case_submissions", description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds, counted")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections at once")
    parser.add_argument("--citizens", type=int, default=16, help="citizens filing, in turn")
    args = parser.parse_args()
    if not os.environ.get(POSTGRES_ENV):
        print(f"skipped: submissions are measured on PostgreSQL; set {POSTGRES_ENV}")
        return
    if not ensure_tools():
        print("skipped: wrk is not installed")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
