"""What pre-filling a draft application costs, through the gateway
(``python -m bench.prefill_latency``).

The whole platform on free ports, on fresh PostgreSQL databases when
``ONEVISIT_TEST_POSTGRES_URL`` names a server (dropped after), else on SQLite files. No item of
the catalogue fills ten fields from three registries, so the seeded platform administrator
publishes one through the catalog's administration API, marked synthetic in its name
(``ITEM``: Lucheng's public security bureau's, min_loa 2), whose ten fields all carry an
``x-prefill`` to one of three resources the exchange hosts: her name and ID number
(``x-applicant`` too: filled from her verified identity, never read) and eight read through the
exchange from ``population``, ``contact_information`` and ``social_security_card`` (six of
case-svc's ``case_prefill`` fields: two form fields repeat one, as forms ask a delivery address
beside the mailing address). A bureau's catalog administrator, made by the platform
administrator, approves it (a new item needs a second person).

A Lucheng resident of the synthetic population, held by all three registries, registers, claims
her real name and matches her face, as the app makes her do. In alternating rounds, after an
uncounted one, each round measures ``--per-round`` of each in turn:

1. the pre-fill (the headline): a fresh draft of hers opened and the consents its
   ``consents_to_fill`` lists given (setup, not timed), then ``POST
   /cases/v1/drafts/{draft_no}/prefill`` through the gateway, timed, and checked to have filled
   all ten fields (eight from registries);
2. the baseline: one exchange call through the gateway (``POST /exchange/v1/calls``,
   ``population.registered_address`` for the same draft, on the same consent) as the bureau's
   own system makes it (a ``department_system`` client whose grant its data steward approved).

Prints p50, p95 and max of each and their ratios, against the issue's target (p95 ≤ 50 ms),
and the CPU each of the platform's processes spent per request of each kind (from /proc; not
PostgreSQL's server). Then the profile of a pre-fill: how many exchange calls it made and how
far apart the ledger recorded them (calls made one after the other lie a call's time apart;
calls made at once lie together), and each step case-svc takes, replayed from here through the
gateway as case-svc makes it (her verified identity with her token; each resource's read with
case-svc's own token, for the bureau), one after the other and the three reads at once.

One request at a time (latency, not throughput), on a machine shared with other work: absolute
figures move with it; the same-run ratios are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.outbox import fresh_databases
from bench.proc import cpu_seconds
from data_exchange_svc.registry.faces import simulated_capture, template_from_seed
from onevisit_dev.answers import bearer
from onevisit_dev.callers import (
    Citizen,
    Client,
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    register_client,
    verify_face,
)
from onevisit_dev.platform import (
    CASE_CLIENT_ID,
    REPO_ROOT,
    SERVICES,
    Platform,
    PlatformConfig,
    case_client_secret,
    running_platform,
)

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
DATA = REPO_ROOT / "data-exchange-svc/data"
#: The platform administrator the identity seed creates here (synthetic).
ADMIN_PHONE = "13700000001"
ADMIN_PASSWORD = "Platform-Admin-2026"
BUREAU = "330302-public_security"
REGION = "330302"
ITEM = "public_security.prefill_latency_synthetic"
PURPOSE = "case_prefill"
#: The three registries the form draws on, each read once per pre-fill.
RESOURCES = ("population", "contact_information", "social_security_card")
#: The form's ten fields: (name, title, resource, resource field, x-applicant part or None).
FORM_FIELDS = (
    ("name", "姓名", "population", "name", "name"),
    ("id_number", "公民身份号码", "population", "id_number", "id_number"),
    ("birth_date", "出生日期", "population", "birth_date", None),
    ("registered_address", "户籍地址", "population", "registered_address", None),
    ("registered_region", "户籍地行政区划代码", "population", "registered_region", None),
    ("mobile_phone", "手机号码", "contact_information", "mobile_phone", None),
    ("contact_phone", "联系电话", "contact_information", "mobile_phone", None),
    ("mailing_address", "邮寄地址", "contact_information", "mailing_address", None),
    ("delivery_address", "证件送达地址", "contact_information", "mailing_address", None),
    ("bank_account", "社会保障卡金融账号", "social_security_card", "bank_account", None),
)
FROM_REGISTRIES = sum(1 for *_, part in FORM_FIELDS if part is None)
#: The baseline's one call: a field of one of the three, as the bureau's system reads it.
BASELINE_RESOURCE, BASELINE_FIELD = "population", "registered_address"
TARGET_P95_MS = 50.0
LEGAL_BASIS = "《浙江省公共数据条例》第二十三条（合成数据）"


def item_body() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, title, resource, field, part in FORM_FIELDS:
        definition: dict[str, Any] = {
            "type": "string",
            "title": title,
            "x-prefill": {"resource": resource, "field": field},
        }
        if part is not None:
            definition["x-applicant"] = part
        properties[name] = definition
    return {
        "code": ITEM,
        "name": "十项预填延迟测试事项（合成数据）",
        "keywords": ["预填"],
        "department_type": "public_security",
        "handling_tier": "county",
        "subject": "person",
        "topics": ["证件办理"],
        "visits": 0,
        "processing_mode": "review",
        "min_loa": 2,
        "legal_working_days": 20,
        "promised_working_days": 5,
        "fee": {"free": True},
        "form_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "十项预填延迟测试事项（合成数据）",
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
        "offered_in": [REGION],
        "notes": "合成数据：预填延迟基准测试用事项",
    }


def applicant() -> Person:
    """The first Lucheng adult of the synthetic population whom all three registries hold,
    with a phone and a mailing address (her face as the phone would capture it)."""

    def rows(name: str) -> dict[str, dict[str, str]]:
        with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as source:
            return {row["id_number"]: row for row in csv.DictReader(source) if row["id_number"]}

    contacts, cards = rows("contact_information"), rows("social_security_card")
    for id_number, person in rows("population").items():
        contact = contacts.get(id_number)
        if (
            person["registered_region"].startswith(REGION)
            and person["birth_date"] < "2000"
            and person["id_card_status"] == "valid"
            and id_number in cards
            and contact is not None
            and contact["mobile_phone"]
            and contact["mailing_address"]
        ):
            seed = int(person["face_seed"])
            face = simulated_capture(template_from_seed(seed), noise_seed=seed + 1, noise=0.022)
            return Person(person["name"], id_number, face)
    raise SystemExit("no Lucheng resident is held by all three registries")


def expect(response: httpx.Response, status: int, step: str) -> dict[str, Any]:
    if response.status_code != status:
        raise SystemExit(f"{step}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def in_days(days: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


@dataclass
class World:
    """Who the bench acts as: her (and her ID number), the bureau's system, case-svc."""

    citizen: Citizen
    id_number: str
    bureau_system: Client
    case_svc: Client


def publish_item(gateway: httpx.Client, admin: str) -> None:
    """The synthetic item, created and published by the platform administrator, approved by
    the bureau's catalog administrator (the second person a new item needs)."""
    made = gateway.post(
        "/catalog/v1/admin/items",
        json=item_body(),
        headers={**bearer(admin), "Idempotency-Key": str(uuid.uuid4())},
    )
    expect(made, 201, "the synthetic item")
    etag = {"If-Match": made.headers["ETag"]}
    approver = create_staff(gateway, admin, BUREAU, ["catalog_admin"])
    path = f"/catalog/v1/admin/items/{ITEM}"
    expect(
        gateway.post(
            f"{path}/draft/approval", headers={**bearer(approver.sign_in(gateway)), **etag}
        ),
        200,
        "its approval",
    )
    expect(gateway.post(f"{path}/publish", headers={**bearer(admin), **etag}), 200, "publication")


def bureau_system(gateway: httpx.Client, admin: str) -> Client:
    """The bureau's own system, granted the baseline's field for pre-fill by its data
    steward (another account of the bureau: nobody decides on their own application)."""
    system = register_client(
        gateway, admin, typ="department_system", name="预填基准（合成数据）", dept=BUREAU
    )
    applied = gateway.post(
        "/exchange/v1/grants",
        json={
            "resource": BASELINE_RESOURCE,
            "fields": [BASELINE_FIELD],
            "purposes": [PURPOSE],
            "legal_basis": LEGAL_BASIS,
            "rate_limit": {"per_minute": 60_000, "burst": 1_000},
        },
        headers={**bearer(system.token(gateway)), "Idempotency-Key": str(uuid.uuid4())},
    )
    grant_id = expect(applied, 201, "the bureau's grant application")["id"]
    steward = create_staff(gateway, admin, BUREAU, ["data_steward"])
    approved = gateway.post(
        f"/exchange/v1/grants/{grant_id}/approve",
        json={"expires_at": in_days(30), "region": REGION},
        headers=bearer(steward.sign_in(gateway)),
    )
    expect(approved, 200, "its approval")
    return system


def set_up(gateway: httpx.Client, var_dir: Path) -> World:
    admin = Citizen(ADMIN_PHONE, ADMIN_PASSWORD).sign_in(gateway)
    publish_item(gateway, admin)
    system = bureau_system(gateway, admin)
    person = applicant()
    citizen = register_citizen(gateway, var_dir)
    claim_real_name(gateway, citizen.sign_in(gateway), person)
    verify_face(gateway, citizen.sign_in(gateway), person)
    return World(
        citizen,
        person.id_number,
        system,
        Client(CASE_CLIENT_ID, case_client_secret(var_dir)),
    )


@dataclass
class Tokens:
    """Fresh access tokens for a round (they live ten minutes)."""

    citizen: str
    bureau: str
    case_svc: str

    @classmethod
    def of(cls, gateway: httpx.Client, world: World) -> Tokens:
        return cls(
            world.citizen.sign_in(gateway),
            world.bureau_system.token(gateway),
            world.case_svc.token(gateway),
        )


def consented_draft(gateway: httpx.Client, citizen: str) -> dict[str, Any]:
    """A fresh draft of hers, with every consent its ``consents_to_fill`` lists given."""
    draft = expect(
        gateway.post("/cases/v1/drafts", json={"item_code": ITEM}, headers=bearer(citizen)),
        201,
        "a draft",
    )
    asked = {wanted["resource"] for wanted in draft["consents_to_fill"]}
    if asked != set(RESOURCES):
        raise SystemExit(f"the draft asks consent for {sorted(asked)}, not {list(RESOURCES)}")
    for wanted in draft["consents_to_fill"]:
        consent = {key: wanted[key] for key in ("consumer", "resource", "fields", "purpose")}
        given = gateway.post(
            "/exchange/v1/me/consents",
            json={**consent, "case_id": wanted["case_id"], "expires_at": in_days(7)},
            headers=bearer(citizen),
        )
        expect(given, 201, "a consent")
    return draft


def check_filled(draft: dict[str, Any]) -> None:
    sources = [entry["source"] for entry in draft["provenance"].values()]
    filled = len(draft["provenance"]) == len(FORM_FIELDS) and not draft["consents_to_fill"]
    if not filled or sources.count("data_resource") != FROM_REGISTRIES:
        raise SystemExit(f"the pre-fill left fields unfilled: {sorted(draft['provenance'])}")


def timed(send: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = send()
    return (time.perf_counter() - started) * 1000, response


def prefill(gateway: httpx.Client, tokens: Tokens, draft_no: str) -> float:
    elapsed, response = timed(
        lambda: gateway.post(f"/cases/v1/drafts/{draft_no}/prefill", headers=bearer(tokens.citizen))
    )
    check_filled(expect(response, 200, "the pre-fill"))
    return elapsed


def bureau_call(gateway: httpx.Client, tokens: Tokens, world: World, draft_no: str) -> float:
    body = {
        "resource": BASELINE_RESOURCE,
        "subject": {"id_number": world.id_number},
        "fields": [BASELINE_FIELD],
        "purpose": PURPOSE,
        "case_id": draft_no,
    }
    elapsed, response = timed(
        lambda: gateway.post("/exchange/v1/calls", json=body, headers=bearer(tokens.bureau))
    )
    expect(response, 200, "the bureau's call")
    return elapsed


@dataclass
class Sampled:
    prefill_ms: list[float]
    call_ms: list[float]
    #: The CPU seconds each of the platform's processes spent on them, by process.
    prefill_cpu: dict[str, float]
    call_cpu: dict[str, float]


def cpu_by_process(platform: Platform) -> dict[str, float]:
    return {name: cpu_seconds([process.pid]) for name, process in platform.processes.items()}


def counted(spent: dict[str, float], platform: Platform, before: dict[str, float]) -> None:
    for name, now in cpu_by_process(platform).items():
        spent[name] = spent.get(name, 0.0) + now - before[name]


def measure(
    platform: Platform, gateway: httpx.Client, world: World, args: argparse.Namespace
) -> tuple[Sampled, list[str]]:
    """The alternating rounds (the first uncounted), with the CPU each process spent on each
    kind of request; also the drafts pre-filled."""
    sampled = Sampled([], [], {}, {})
    drafts: list[str] = []
    for number in range(args.rounds + 1):
        tokens = Tokens.of(gateway, world)
        round_drafts = [
            consented_draft(gateway, tokens.citizen)["draft_no"] for _ in range(args.per_round)
        ]
        before = cpu_by_process(platform)
        prefills = [prefill(gateway, tokens, draft_no) for draft_no in round_drafts]
        if number:
            counted(sampled.prefill_cpu, platform, before)
        before = cpu_by_process(platform)
        calls = [bureau_call(gateway, tokens, world, draft_no) for draft_no in round_drafts]
        if number:
            counted(sampled.call_cpu, platform, before)
            sampled.prefill_ms += prefills
            sampled.call_ms += calls
            drafts += round_drafts
            print(
                f"  round {number}: pre-fill p50 {percentile(prefills, 0.5):6.1f} ms,"
                f" one exchange call p50 {percentile(calls, 0.5):6.1f} ms",
                flush=True,
            )
    return sampled, drafts


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the profile -------------------------------------------------------------------------------


def ledger_spread(
    gateway: httpx.Client, tokens: Tokens, drafts: Sequence[str]
) -> list[list[float]]:
    """For each draft, when the ledger recorded each read its pre-fill made, in ms after the
    first: her access log, as she sees it (case-svc's allowed reads naming the draft)."""
    times: dict[str, list[dt.datetime]] = {draft_no: [] for draft_no in drafts}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor is not None:
            params["cursor"] = cursor
        page = expect(
            gateway.get(
                "/exchange/v1/me/access-log", params=params, headers=bearer(tokens.citizen)
            ),
            200,
            "her access log",
        )
        for item in page["items"]:
            if (
                item["case_id"] in times
                and item["outcome"] == "allowed"
                and item["receipt"]["entry"]["actor"] == CASE_CLIENT_ID
            ):
                times[item["case_id"]].append(dt.datetime.fromisoformat(item["at"]))
        cursor = page.get("next_cursor")
        if cursor is None or all(len(at) >= len(RESOURCES) for at in times.values()):
            break
    spreads = []
    for at in times.values():
        at.sort()
        spreads.append([(moment - at[0]).total_seconds() * 1000 for moment in at])
    return spreads


async def replay(
    url: str, tokens: Tokens, world: World, drafts: Sequence[dict[str, Any]]
) -> dict[str, list[float]]:
    """case-svc's steps for each consented draft, from here through the gateway on warm
    connections: her verified identity, each resource's read one after the other, then the
    three at once (ms)."""
    costs: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:

        def identity() -> Awaitable[httpx.Response]:
            return client.get("/identity/v1/me/verified-identity", headers=bearer(tokens.citizen))

        def read(draft: dict[str, Any], wanted: dict[str, Any]) -> Awaitable[httpx.Response]:
            body = {
                "resource": wanted["resource"],
                "subject": {"id_number": world.id_number},
                "fields": wanted["fields"],
                "purpose": PURPOSE,
                "case_id": draft["draft_no"],
                "for_department": BUREAU,
            }
            return client.post("/exchange/v1/calls", json=body, headers=bearer(tokens.case_svc))

        async def step(name: str, *sent: Awaitable[httpx.Response]) -> None:
            started = time.perf_counter()
            for answer in await asyncio.gather(*sent):
                expect(answer, 200, name)
            costs.setdefault(name, []).append((time.perf_counter() - started) * 1000)

        # As many connections as the reads at once take, opened before anything is timed.
        await step("warm-up", *(identity() for _ in RESOURCES))
        for draft in drafts:
            await step("verified identity", identity())
            for wanted in draft["consents_to_fill"]:
                await step(f"read {wanted['resource']}", read(draft, wanted))
            await step(
                "the three reads at once",
                *(read(draft, wanted) for wanted in draft["consents_to_fill"]),
            )
    del costs["warm-up"]
    return costs


def profile(
    gateway: httpx.Client, world: World, drafts: Sequence[str], args: argparse.Namespace
) -> None:
    tokens = Tokens.of(gateway, world)
    spreads = ledger_spread(gateway, tokens, drafts[-args.profile :])
    calls = statistics.median(len(spread) for spread in spreads)
    last = statistics.median(spread[-1] for spread in spreads if spread)
    print(
        f"\nprofile: each pre-fill made {calls:.0f} exchange calls (her access log); the ledger"
        f" recorded its last {last:.1f} ms after its first (median of {len(spreads)})"
    )
    fresh = [consented_draft(gateway, tokens.citizen) for _ in range(args.profile)]
    costs = asyncio.run(replay(str(gateway.base_url), tokens, world, fresh))
    print(f"  case-svc's steps replayed through the gateway (p50 of {args.profile}):")
    for name, values in costs.items():
        print(f"    {name:28s} {percentile(values, 0.5):6.1f} ms")
    reads = [name for name in costs if name.startswith("read ")]
    one_by_one = sum(percentile(costs[name], 0.5) for name in reads)
    print(f"    {'the reads one after another':28s} {one_by_one:6.1f} ms (sum of p50s)")


def report(sampled: Sampled, args: argparse.Namespace, backend: str) -> None:
    print(
        f"\n{ITEM}: ten fields, eight read from {len(RESOURCES)} registries; {backend},"
        f" {args.rounds} alternating rounds of {args.per_round} each, one at a time:"
    )
    rows = {
        "one exchange call (baseline)": sampled.call_ms,
        "pre-fill of a fresh draft": sampled.prefill_ms,
    }
    for label, values in rows.items():
        print(
            f"  {label:30s} p50 {percentile(values, 0.5):6.1f} ms   p95"
            f" {percentile(values, 0.95):6.1f} ms   max {max(values):6.1f} ms"
        )
    p50, p95 = percentile(sampled.prefill_ms, 0.5), percentile(sampled.prefill_ms, 0.95)
    print(
        f"  ratio pre-fill / one call: p50 ×{p50 / percentile(sampled.call_ms, 0.5):.2f},"
        f" p95 ×{p95 / percentile(sampled.call_ms, 0.95):.2f};"
        f" pre-fill p95 against the target {TARGET_P95_MS:.0f} ms: ×{p95 / TARGET_P95_MS:.2f}"
    )
    names = list(sampled.prefill_cpu)
    print("  CPU per request, ms (each process, from /proc; PostgreSQL's server not counted):")
    print("  " + " " * 30 + "".join(f"{name:>10s}" for name in [*names, "all"]))
    for label, spent, count in (
        ("one exchange call (baseline)", sampled.call_cpu, len(sampled.call_ms)),
        ("pre-fill of a fresh draft", sampled.prefill_cpu, len(sampled.prefill_ms)),
    ):
        cells = [spent[name] / count * 1000 for name in names]
        print(f"  {label:30s}" + "".join(f"{cell:10.2f}" for cell in [*cells, sum(cells)]))


@contextlib.contextmanager
def platform_on(directory: Path, urls: dict[str, str]) -> Iterator[Platform]:
    config = PlatformConfig.on_free_ports(directory)
    config.log_level = "WARNING"
    config.database_urls.update(urls)
    config.extra_env.update(
        {"IDENTITY_SEED_ADMIN_PHONE": ADMIN_PHONE, "IDENTITY_SEED_ADMIN_PASSWORD": ADMIN_PASSWORD}
    )
    with running_platform(config) as platform:
        yield platform


def run(args: argparse.Namespace, directory: Path, urls: dict[str, str], backend: str) -> None:
    print(f"starting the platform on {backend} on free ports ...", flush=True)
    with platform_on(directory, urls) as platform, platform.client() as gateway:
        world = set_up(gateway, platform.config.var_dir)
        sampled, drafts = measure(platform, gateway, world, args)
        report(sampled, args, backend)
        profile(gateway, world, drafts, args)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prefill_latency", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds, counted")
    parser.add_argument("--per-round", type=int, default=25, help="of each, per round")
    parser.add_argument("--profile", type=int, default=10, help="drafts profiled")
    args = parser.parse_args()
    admin_url = os.environ.get(POSTGRES_ENV)
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-prefill-") as tmp:
        if admin_url is None:
            run(args, Path(tmp), {}, "SQLite")
            return

        async def databases() -> None:
            owners = [spec.name for spec in SERVICES]
            async with fresh_databases(admin_url, *owners, prefix="bench_prefill") as urls:
                await asyncio.to_thread(run, args, Path(tmp), urls, "PostgreSQL")

        asyncio.run(databases())


if __name__ == "__main__":
    main()
