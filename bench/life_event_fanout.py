"""One life event fanned out to many departments (``python -m bench.life_event_fanout``).

data-exchange-svc runs as it is deployed: uvicorn, its real app, on a fresh PostgreSQL database
(``ONEVISIT_TEST_POSTGRES_URL``) migrated and seeded as ``bench.exchange_ledger`` does, tokens
signed by a key this run holds (served as a JWKS from here), departments' endpoints allowed over
plain http (``EXCHANGE_SUBSCRIPTION_HTTP_ALLOWED``), its relay on ``RelayPolicy()``'s defaults
(rounds of 100, 16 posts in flight, an idle poll of 1 s). ``--workers`` processes, one by
default: each runs a relay; the one that answers the load is woken by its commit, the others
poll.
``--departments`` departments (``330302-bench_<n>``) hold an approved grant on
``child_birth_certificate`` (written into its database, as the tests do) and subscribe through
the API to ``life.birth_registered``, each at a path of its own on one receiver: another
process (uvicorn, a bare ASGI app) that notes when each POST arrived (this machine's wall
clock) and hands the bench what it got.

In alternating rounds, after an uncounted one of each:

1. the fan-out (the headline): Lucheng's health bureau's system loads one birth (a fresh mother
   each round) with ``POST /exchange/v1/resources/child_birth_certificate/records``; from just
   before the request is sent to each push's arrival, per delivery. All must arrive, each at
   its department's path, about her (the run fails otherwise); one, at random, is checked with
   ``verify_delivery`` under its subscription's secret; the next round waits until the exchange
   has recorded every delivery delivered.
2. the baseline: the same pushes' bodies (so the same sizes), posted from here to the same
   paths as plain HTTP POSTs, as many in flight as the relay posts (``RelayPolicy().concurrency``),
   timed the same way: from just before the first is sent to each one's arrival.

Prints p50, p95, p99 and max over all deliveries of each, the time until the last of each
event's deliveries arrived, the ratios fan-out/plain, the fan-out's p99 against the issue's 2 s,
where a fan-out's time goes (until the load was answered: detecting the event, addressing it and
appending a ledger entry per delivery, in the request; then the first and the last push), and
the CPU the exchange and the receiver spent per event. The exchange, the receiver, PostgreSQL
and this process share the machine's cores (and the machine may be busy with other work):
absolute figures move; the same-run ratios are the result. ``--short``: a few events.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select
from starlette.types import Receive, Scope, Send

from bench.exchange_ledger import database, exchange_workers, static_files
from bench.outbox import percentile
from bench.proc import cpu_seconds, wait_until_serving
from data_exchange_svc.lifeevents.rules import RULES
from data_exchange_svc.models import EventDelivery, SharingGrant
from data_exchange_svc.resources.values import today_in_china
from onevisit_dev.platform import REPO_ROOT, free_port
from servicekit.db import Database
from servicekit.events import CLOUDEVENTS_JSON, DEAD, PENDING, RelayPolicy
from servicekit.resident_id import check_character
from servicekit.testing import TokenMinter
from servicekit.webhooks import verify_delivery

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
BIRTHS = "life.birth_registered"
RESOURCE = RULES[BIRTHS].resource
PURPOSE = "service_delivery"
#: The provider of birth certificates in Lucheng: its health bureau's system.
HOSPITAL = "330302-health"
TARGET_P99_SECONDS = 2.0
#: The receiver's own path: what arrived since it was last asked (and forgets it).
ARRIVALS = "/arrivals"
#: Marks the baseline's posts, with the round's token.
BASELINE_HEADER = "x-bench-round"
#: How long a round waits for its deliveries before the run fails.
ROUND_SECONDS = 60.0


# The receiver (``uvicorn bench.life_event_fanout:create_receiver --factory``).


class Receiver:
    """Departments' endpoints, one per path: each POST noted with its arrival time (wall clock,
    after its body was read) and answered 204; ``GET /arrivals`` hands over what arrived."""

    def __init__(self) -> None:
        self.arrivals: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        if scope["method"] == "GET" and scope["path"] == ARRIVALS:
            answer, self.arrivals = orjson.dumps(self.arrivals), []
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived_at = time.time()
        self.arrivals.append(
            {
                "path": scope["path"],
                "at": arrived_at,
                "headers": {name.decode(): value.decode() for name, value in scope["headers"]},
                "body": body.decode(),
            }
        )
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def create_receiver() -> Receiver:
    return Receiver()


@contextmanager
def receiver_process(tmp: Path) -> Iterator[tuple[str, int]]:
    """The receiver as its own uvicorn process: its URL and process id."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.life_event_fanout:create_receiver"]
    command += ["--factory", "--lifespan", "off", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    with (tmp / "receiver.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}{ARRIVALS}", process=process, seconds=60)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The world: departments granted and subscribed, the hospital, the births.


@dataclass(frozen=True)
class Subscriber:
    department: str
    path: str
    #: The subscription's signing secret, as its answer showed it once.
    secret: str


def department(number: int) -> str:
    return f"330302-bench_{number:03d}"


async def grant_all(url: str, count: int) -> None:
    """An approved grant on birth certificates for each department (all the rule's fields),
    written into the exchange's database before it starts, as the tests write theirs."""
    db = Database(url)
    try:
        async with db.sessionmaker.begin() as session:
            session.add_all(
                SharingGrant(
                    consumer=department(number),
                    resource_code=RESOURCE,
                    fields=list(RULES[BIRTHS].fields),
                    purposes=[PURPOSE],
                    legal_basis="合成数据：生命事件推送基准测试",
                )
                for number in range(count)
            )
    finally:
        await db.dispose()


async def subscribe_all(
    exchange: httpx.AsyncClient, minter: TokenMinter, receiver: str, count: int
) -> dict[str, Subscriber]:
    """Each department's system subscribes it at a path of its own; the subscribers by path."""
    subscribers: dict[str, Subscriber] = {}
    for number in range(count):
        name = department(number)
        token = minter.mint("bench-system", typ="department_system", loa=0, dept=name)
        path = f"/departments/{number:03d}/life-events"
        answer = await exchange.post(
            "/exchange/v1/subscriptions",
            json={"event_type": BIRTHS, "endpoint": receiver + path, "purpose": PURPOSE},
            headers={"authorization": f"Bearer {token}"},
        )
        if answer.status_code != 201:
            raise SystemExit(f"{name}'s subscription: {answer.status_code} {answer.text}")
        subscribers[path] = Subscriber(name, path, answer.json()["secret"])
    return subscribers


def new_mother() -> str:
    """A resident identity number no dataset holds: a Lucheng woman born in 1992."""
    body = f"330302199203{secrets.randbelow(28) + 1:02d}{secrets.randbelow(500) * 2:03d}"
    return body + check_character(body)


def birth(mother: str) -> dict[str, Any]:
    return {
        "subject": {"id_number": mother},
        "fields": {
            "certificate_number": f"B{secrets.randbelow(10**9):09d}",
            "child_name": "林小满",
            "child_sex": "female",
            "child_birth_date": (today_in_china() - dt.timedelta(days=1)).isoformat(),
            "birth_region": "330302",
            "hospital_name": "温州市鹿城区第二人民医院（合成数据）",
        },
    }


# The measurements.


@dataclass
class Arrived:
    path: str
    at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class Round:
    #: Seconds from just before the first request was sent to each delivery's arrival.
    latencies: list[float]
    #: The fan-out's: seconds until the load was answered (else 0).
    answered: float = 0.0
    #: CPU seconds the exchange and the receiver spent on the round.
    exchange_cpu: float = 0.0
    receiver_cpu: float = 0.0

    @property
    def last(self) -> float:
        return max(self.latencies)


class Bench:
    def __init__(
        self,
        exchange: httpx.AsyncClient,
        receiver: httpx.AsyncClient,
        db: Database,
        subscribers: dict[str, Subscriber],
        hospital: str,
        exchange_pids: list[int],
        receiver_pid: int,
    ) -> None:
        self.exchange = exchange
        self.receiver = receiver
        self.db = db
        self.subscribers = subscribers
        self.hospital = hospital
        self.exchange_pids, self.receiver_pid = exchange_pids, receiver_pid
        #: Arrivals the rounds did not expect (a push delivered twice, a late one).
        self.strays = 0

    async def arrivals(self, wanted: Callable[[Arrived], bool]) -> list[Arrived]:
        """What the receiver got, until a push of each subscriber that ``wanted`` (looking
        every 20 ms); fails if one is missing after ``ROUND_SECONDS`` or arrives twice."""
        found: dict[str, Arrived] = {}
        deadline = time.monotonic() + ROUND_SECONDS
        while len(found) < len(self.subscribers):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{len(found)} of {len(self.subscribers)} deliveries arrived"
                    f" within {ROUND_SECONDS:.0f} s"
                )
            await asyncio.sleep(0.02)
            answer = await self.receiver.get(ARRIVALS)
            answer.raise_for_status()
            for item in answer.json():
                arrived = Arrived(item["path"], item["at"], item["headers"], item["body"].encode())
                if not wanted(arrived):
                    self.strays += 1
                    continue
                if arrived.path in found or arrived.path not in self.subscribers:
                    raise SystemExit(f"{arrived.path}: an unexpected or second delivery")
                found[arrived.path] = arrived
        return list(found.values())

    async def settled(self) -> None:
        """Until the exchange has recorded every delivery delivered; none may be dead."""
        by_status = select(EventDelivery.status, func.count()).group_by(EventDelivery.status)
        deadline = time.monotonic() + ROUND_SECONDS
        while True:
            async with self.db.sessionmaker() as session:
                counts: dict[str, int] = dict((await session.execute(by_status)).all())
            if counts.get(DEAD):
                raise SystemExit(f"the exchange gave up on {counts[DEAD]} deliveries (dead)")
            if not counts.get(PENDING):
                return
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{counts[PENDING]} deliveries pending after {ROUND_SECONDS:.0f} s"
                )
            await asyncio.sleep(0.02)

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.exchange_pids), cpu_seconds([self.receiver_pid])

    async def fan_out(self) -> tuple[Round, list[Arrived]]:
        """One birth loaded: each subscriber's push, from just before the load was sent."""
        mother = new_mother()
        records = {"records": [birth(mother)]}
        headers = {"authorization": f"Bearer {self.hospital}"}
        exchange_cpu, receiver_cpu = self.cpu()
        sent_at = time.time()
        loaded = await self.exchange.post(
            f"/exchange/v1/resources/{RESOURCE}/records", json=records, headers=headers
        )
        answered = time.time() - sent_at
        if loaded.status_code != 200:
            raise SystemExit(f"the birth's load: {loaded.status_code} {loaded.text}")

        def about_her(arrived: Arrived) -> bool:
            if BASELINE_HEADER in arrived.headers:
                return False
            event = orjson.loads(arrived.body)
            return bool(event["data"]["subject"]["id_number"] == mother)

        pushes = await self.arrivals(about_her)
        # The pushes are real: one, at random, checked as its department would.
        sample = random.choice(pushes)
        event = verify_delivery(sample.body, sample.headers, self.subscribers[sample.path].secret)
        if event["type"] != BIRTHS or sample.headers["content-type"] != CLOUDEVENTS_JSON:
            raise SystemExit(f"{sample.path} was pushed {event['type']}")
        await self.settled()
        exchange_used, receiver_used = self.cpu()
        latencies = [push.at - sent_at for push in pushes]
        return Round(
            latencies, answered, exchange_used - exchange_cpu, receiver_used - receiver_cpu
        ), pushes

    async def plain_posts(self, pushes: Sequence[Arrived]) -> Round:
        """The same bodies to the same paths, posted from here, as many at once as the relay
        posts; from just before the first was sent."""
        token = secrets.token_hex(8)
        headers = {"content-type": CLOUDEVENTS_JSON, BASELINE_HEADER: token}
        slots = asyncio.Semaphore(RelayPolicy().concurrency)

        async def post(push: Arrived) -> None:
            async with slots:
                answer = await self.receiver.post(push.path, content=push.body, headers=headers)
            if answer.status_code != 204:
                raise SystemExit(f"the receiver answered {answer.status_code}")

        exchange_cpu, receiver_cpu = self.cpu()
        sent_at = time.time()
        async with asyncio.TaskGroup() as group:
            for push in pushes:
                group.create_task(post(push))
        arrived = await self.arrivals(lambda item: item.headers.get(BASELINE_HEADER) == token)
        exchange_used, receiver_used = self.cpu()
        return Round(
            [item.at - sent_at for item in arrived],
            exchange_cpu=exchange_used - exchange_cpu,
            receiver_cpu=receiver_used - receiver_cpu,
        )


def report(fanned: list[Round], plain: list[Round], args: argparse.Namespace) -> None:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:8.1f}"

    deliveries = len(fanned[0].latencies)
    print(
        f"\n{deliveries} departments subscribed to {BIRTHS}, {len(fanned)} events in alternating"
        f" rounds, PostgreSQL, the exchange in {args.workers} uvicorn process(es);"
        f" its relay on RelayPolicy()'s defaults"
        f" ({RelayPolicy().concurrency} in flight); ms from just before the first request"
        f" to each delivery's arrival, over all {deliveries * len(fanned)}:"
    )
    print(
        f"  {'':34s}{'p50':>8s}{'p95':>8s}{'p99':>8s}{'max':>8s}"
        f"   last of each event's {deliveries}: p50, max"
    )
    figures = {}
    for label, rounds in (
        (f"plain POSTs, {RelayPolicy().concurrency} in flight (baseline)", plain),
        ("fan-out through the exchange", fanned),
    ):
        every = [latency for r in rounds for latency in r.latencies]
        lasts = [r.last for r in rounds]
        figures[label] = (percentile(every, 0.5), percentile(every, 0.99))
        print(
            f"  {label:34s}{ms(percentile(every, 0.5))}{ms(percentile(every, 0.95))}"
            f"{ms(percentile(every, 0.99))}{ms(max(every))}"
            f"   {ms(statistics.median(lasts))}{ms(max(lasts))}"
        )
    (plain50, plain99), (fan50, fan99) = figures.values()
    print(
        f"  ratio fan-out/plain: p50 ×{fan50 / plain50:.1f}, p99 ×{fan99 / plain99:.1f};"
        f" fan-out p99 against the target {TARGET_P99_SECONDS:.0f} s:"
        f" ×{fan99 / TARGET_P99_SECONDS:.2f} ({'met' if fan99 <= TARGET_P99_SECONDS else 'MISSED'})"
    )
    answered = statistics.median(r.answered for r in fanned)
    first = statistics.median(min(r.latencies) for r in fanned)
    last = statistics.median(r.last for r in fanned)
    print(
        f"  where a fan-out's time goes (medians): the load answered after {answered * 1000:.1f}"
        f" ms (the event detected, addressed, a ledger entry per delivery, in the request);"
        f" first push {first * 1000:.1f} ms, last {last * 1000:.1f} ms after it was sent"
    )

    def per_round(rounds: list[Round], spent: Callable[[Round], float]) -> float:
        # /proc counts in ticks (10 ms): the whole run's, divided, rather than a median of ticks.
        return sum(spent(r) for r in rounds) / len(rounds) * 1000

    print(
        f"  CPU per event (ms, from /proc): exchange"
        f" {per_round(fanned, lambda r: r.exchange_cpu):.1f}; receiver"
        f" {per_round(fanned, lambda r: r.receiver_cpu):.1f} under the fan-out,"
        f" {per_round(plain, lambda r: r.receiver_cpu):.1f} under the plain POSTs"
    )


async def run(args: argparse.Namespace) -> None:
    minter = TokenMinter()
    hospital = minter.mint(
        "bench-his", typ="department_system", loa=0, dept=HOSPITAL, ttl_seconds=3600
    )
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as directory:
        tmp = Path(directory)
        (tmp / "jwks.json").write_text(json.dumps(minter.jwks_document()), encoding="utf-8")
        async with database("postgresql", tmp) as url:
            await grant_all(url, args.departments)
            settings = {"EXCHANGE_SUBSCRIPTION_HTTP_ALLOWED": "true"}
            with (
                static_files(tmp) as files,
                receiver_process(tmp) as (receiver_url, receiver_pid),
                exchange_workers(url, tmp, files, args.workers, settings) as (base, pids),
            ):
                limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
                db = Database(url)
                async with (
                    httpx.AsyncClient(base_url=base, timeout=30.0) as exchange,
                    httpx.AsyncClient(base_url=receiver_url, timeout=30.0, limits=limits) as rx,
                ):
                    try:
                        subscribers = await subscribe_all(
                            exchange, minter, receiver_url, args.departments
                        )
                        bench = Bench(exchange, rx, db, subscribers, hospital, pids, receiver_pid)
                        fanned, plain = await rounds(bench, args)
                    finally:
                        await db.dispose()
    report(fanned, plain, args)
    if bench.strays:
        print(f"  ({bench.strays} arrivals no round expected: pushed twice?)")


async def rounds(bench: Bench, args: argparse.Namespace) -> tuple[list[Round], list[Round]]:
    """The rounds, the first of each uncounted (connections, caches); fan-out and plain POSTs
    in turn, their order swapped every other round."""
    fanned: list[Round] = []
    plain: list[Round] = []
    pushes: list[Arrived] = []
    for number in range(args.events + 1):
        if number % 2:
            # The baseline first this time, with the last fan-out's bodies (the same sizes).
            base = await bench.plain_posts(pushes)
            fan, pushes = await bench.fan_out()
        else:
            fan, pushes = await bench.fan_out()
            base = await bench.plain_posts(pushes)
        if number:
            fanned.append(fan)
            plain.append(base)
            print(
                f"  event {number}: fan-out p50 {percentile(fan.latencies, 0.5) * 1000:.0f} ms,"
                f" last {fan.last * 1000:.0f} ms (load answered {fan.answered * 1000:.0f} ms);"
                f" plain p50 {percentile(base.latencies, 0.5) * 1000:.0f} ms,"
                f" last {base.last * 1000:.0f} ms",
                flush=True,
            )
    return fanned, plain


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.life_event_fanout", description=__doc__)
    parser.add_argument("--events", type=int, default=20, help="births loaded, counted")
    parser.add_argument("--departments", type=int, default=100, help="subscribed, each")
    parser.add_argument(
        "--workers", type=int, default=1, help="the exchange's uvicorn processes (a relay each)"
    )
    parser.add_argument("--short", action="store_true", help="a few events, to see it work")
    args = parser.parse_args()
    if args.short:
        args.events = 3
    if not os.environ.get(POSTGRES_ENV):
        print(f"skipped: the fan-out is measured on PostgreSQL; set {POSTGRES_ENV}")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
