"""What sealing the registry at rest costs a call (``python -m bench.exchange_sealing``).

data-exchange-svc runs in this process (its real lifespan, migrations and seed), driven through
an in-process ASGI transport as in ``bench.exchange_ledger``. Two residents are read by the same
call (identity-svc's face-verification read: name, birth date, face template, with its ledger
entry): one as the seed wrote her, sealed (``servicekit.sealing``), and one whose record was
written back in clear, as a registry from before sealing holds it (the columns read such values
as they are). Rounds alternate between the two; the ratio of their throughput, and of the CPU
this process spent per call, is what opening three sealed values costs a call.

SQLite by default; ``--backend postgresql`` with ``ONEVISIT_TEST_POSTGRES_URL`` set.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
from sqlalchemy import LargeBinary, Text, type_coerce, update

from bench.exchange_ledger import Round, cpu_counted, database, drive, settings_for
from data_exchange_svc.deps import ExchangeState
from data_exchange_svc.main import create_app
from data_exchange_svc.models import PopulationRecord
from data_exchange_svc.registry.dataset import read_population
from servicekit.state import app_state
from servicekit.testing import TokenMinter

DATA = Path(__file__).resolve().parents[1] / "data-exchange-svc" / "data" / "population.csv"
FIELDS = ["name", "birth_date", "face_template"]


async def _write_in_clear(state: ExchangeState, id_number: str) -> None:
    """Her record as a registry from before sealing holds it: every value in clear."""
    table = PopulationRecord.metadata.tables[PopulationRecord.__tablename__]
    lookup_hash = state.identifiers.lookup_hash(id_number)
    async with state.database.sessionmaker.begin() as session:
        record = (
            await session.execute(table.select().where(table.c.id_number_hash == lookup_hash))
        ).one()
        await session.execute(
            update(table)
            .where(table.c.id_number_hash == lookup_hash)
            .values(
                name=type_coerce(record.name, Text()),
                birth_date=type_coerce(record.birth_date.isoformat(), Text()),
                ethnicity=type_coerce(record.ethnicity, Text()),
                registered_address=type_coerce(record.registered_address, Text()),
                face_template=type_coerce(record.face_template, LargeBinary()),
            )
        )


async def bench(backend: str, *, concurrency: int, seconds: float, rounds: int) -> None:
    minter = TokenMinter()
    headers = {"Authorization": f"Bearer {minter.mint('identity-svc', typ='service', loa=0)}"}
    sealed_person, clear_person = read_population(DATA)[:2]
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        async with database(backend, tmp) as url:
            app = create_app(settings_for(url, tmp), jwks=minter.jwks)
            async with app.router.lifespan_context(app):
                state = app_state(app, ExchangeState)
                await _write_in_clear(state, clear_person.id_number)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:

                    async def read_sealed() -> httpx.Response:
                        body = _call(sealed_person.id_number)
                        return await client.post("/exchange/v1/calls", json=body, headers=headers)

                    async def read_clear() -> httpx.Response:
                        body = _call(clear_person.id_number)
                        return await client.post("/exchange/v1/calls", json=body, headers=headers)

                    for send in (read_sealed, read_clear):
                        answer = await send()
                        answer.raise_for_status()
                    # The same values come back either way.
                    sealed_answer = (await read_sealed()).json()["fields"]
                    assert sealed_answer["name"] == sealed_person.name
                    assert (await read_clear()).json()["fields"]["name"] == clear_person.name
                    results: dict[str, list[Round]] = {"clear": [], "sealed": []}
                    share = seconds / rounds
                    for _ in range(rounds):
                        for label, send in (("clear", read_clear), ("sealed", read_sealed)):
                            async with cpu_counted(results[label]):
                                results[label].append(await drive(send, concurrency, share))
    print(f"\n[{backend}] a call reading {', '.join(FIELDS)}; {concurrency} concurrent,")
    print(f"  {rounds} alternating rounds of {seconds / rounds:.1f} s each")
    merged = {}
    for label in ("clear", "sealed"):
        rounds_of = results[label]
        merged[label] = Round(
            [latency for r in rounds_of for latency in r.latencies],
            sum(r.errors for r in rounds_of),
            sum(r.seconds for r in rounds_of),
            sum(r.cpu_seconds for r in rounds_of),
        )
        run = merged[label]
        print(
            f"  record in {label:6s} {run.throughput:8.0f} calls/s   p50 {run.percentile(0.5):6.1f}"
            f" ms   p99 {run.percentile(0.99):6.1f} ms   CPU {run.cpu_ms:5.2f} ms/call"
            f"   errors {run.errors}"
        )
    sealed, clear = merged["sealed"], merged["clear"]
    print(
        f"  sealed / clear: throughput {sealed.throughput / clear.throughput:.3f},"
        f" CPU per call {sealed.cpu_ms / clear.cpu_ms:.3f}"
    )


def _call(id_number: str) -> dict[str, object]:
    return {
        "resource": "population",
        "subject": {"id_number": id_number},
        "fields": FIELDS,
        "purpose": "face_verification",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=10)
    arguments = parser.parse_args()
    asyncio.run(
        bench(
            arguments.backend,
            concurrency=arguments.concurrency,
            seconds=arguments.seconds,
            rounds=arguments.rounds,
        )
    )


if __name__ == "__main__":
    main()
