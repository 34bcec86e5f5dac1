"""The access ledger: every match and call, allowed or refused, chained so tampering shows."""

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, text, update

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger import repository
from data_exchange_svc.ledger.chain import (
    GENESIS_HASH,
    ChainedEntry,
    ChainReport,
    EntryContent,
    entry_hash,
    verify_chain,
)
from data_exchange_svc.ledger.service import verify_ledger
from data_exchange_svc.models import LedgerEntry
from servicekit.testing import TokenMinter, bearer

Headers = dict[str, str]

DEMO_ID = "330302195203140248"

MATCH = {
    "resource": "population",
    "subject": {"id_number": DEMO_ID},
    "claims": {"name": "林秀英"},
    "purpose": "real_name_verification",
}
CALL = {
    "resource": "population",
    "subject": {"id_number": DEMO_ID},
    "fields": ["registered_region", "face_template"],
    "purpose": "face_verification",
}


async def ledger_entries(app: FastAPI) -> list[LedgerEntry]:
    async with app.state.database.sessionmaker() as session:
        return await repository.entries_in_order(session)


async def ledger_report(app: FastAPI) -> ChainReport:
    async with app.state.database.sessionmaker() as session:
        return await verify_ledger(session)


async def test_every_match_and_call_allowed_or_refused_is_in_the_ledger_in_order(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers, token_minter: TokenMinter
) -> None:
    stranger = bearer(token_minter.mint("case-svc", typ="service", loa=0))
    requests: list[tuple[str, dict[str, Any], Headers]] = [
        ("/exchange/v1/matches", MATCH, identity_svc),
        ("/exchange/v1/calls", CALL, identity_svc),
        ("/exchange/v1/calls", {**CALL, "fields": ["id_number"]}, identity_svc),
        ("/exchange/v1/calls", {**CALL, "purpose": "marketing"}, identity_svc),
        ("/exchange/v1/calls", {**CALL, "resource": "tax_records"}, identity_svc),
        ("/exchange/v1/calls", {**CALL, "subject": {"id_number": "330302"}}, identity_svc),
        ("/exchange/v1/matches", MATCH, stranger),
        ("/exchange/v1/calls", {**CALL, "case_id": "330302-20261126-000001"}, identity_svc),
    ]
    call_ids = []
    for path, body, headers in requests:
        response = await client.post(path, json=body, headers=headers)
        call_ids.append(uuid.UUID(response.json()["call_id"]))

    entries = await ledger_entries(app)
    assert [entry.seq for entry in entries] == list(range(1, len(requests) + 1))
    assert [entry.call_id for entry in entries] == call_ids
    assert [(entry.kind, entry.outcome, entry.code) for entry in entries] == [
        ("match", "allowed", None),
        ("call", "allowed", None),
        ("call", "refused", "field_not_granted"),
        ("call", "refused", "purpose_not_allowed"),
        ("call", "refused", "resource_not_found"),
        ("call", "refused", "invalid_subject"),
        ("match", "refused", "no_grant"),
        ("call", "allowed", None),
    ]
    assert [entry.consumer for entry in entries] == ["identity-svc"] * 6 + [
        "case-svc",
        "identity-svc",
    ]
    assert entries[0].fields == ["name"]
    assert entries[1].fields == ["registered_region", "face_template"]
    assert entries[3].purpose == "marketing"
    assert entries[7].case_id == "330302-20261126-000001"
    assert (await ledger_report(app)).intact


async def test_the_ledger_names_the_subject_by_keyed_hash_never_by_number(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    await client.post("/exchange/v1/calls", json=CALL, headers=identity_svc)
    protector: IdentifierProtector = app.state.identifiers
    (entry,) = await ledger_entries(app)
    assert entry.subject_hash == protector.lookup_hash(DEMO_ID)
    async with app.state.database.sessionmaker() as session:
        row = (await session.execute(text("SELECT * FROM ledger_entry"))).one()
    assert all(DEMO_ID not in str(value) for value in row)


async def test_a_department_staff_call_is_recorded_under_the_department_with_its_actor(
    app: FastAPI, client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    staff = bearer(token_minter.mint("staff-42", typ="staff", dept="330302-civil_affairs"))
    await client.post("/exchange/v1/calls", json=CALL, headers=staff)
    (entry,) = await ledger_entries(app)
    assert (entry.consumer, entry.actor, entry.code) == (
        "330302-civil_affairs",
        "staff-42",
        "no_grant",
    )


async def test_requests_without_a_valid_token_or_body_are_not_access_attempts(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    await client.post("/exchange/v1/calls", json=CALL)
    await client.post("/exchange/v1/calls", json={**CALL, "fields": []}, headers=identity_svc)
    assert await ledger_entries(app) == []


async def test_concurrent_calls_take_consecutive_numbers_and_keep_the_chain(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    bodies = [CALL, {**CALL, "purpose": "marketing"}, MATCH] * 6
    paths = ["/exchange/v1/calls", "/exchange/v1/calls", "/exchange/v1/matches"] * 6
    responses = await asyncio.gather(
        *(
            client.post(path, json=body, headers=identity_svc)
            for path, body in zip(paths, bodies, strict=True)
        )
    )
    assert sorted(response.status_code for response in responses) == [200] * 12 + [403] * 6
    entries = await ledger_entries(app)
    assert [entry.seq for entry in entries] == list(range(1, 19))
    assert {entry.call_id for entry in entries} == {
        uuid.UUID(response.json()["call_id"]) for response in responses
    }
    assert (await ledger_report(app)).intact


TAMPERING: list[tuple[str, Any, int, str]] = [
    (
        "rewrite a purpose",
        update(LedgerEntry).where(LedgerEntry.seq == 2).values(purpose="audit"),
        2,
        "entry_hash_mismatch",
    ),
    (
        "turn a refusal into an allowed call",
        update(LedgerEntry).where(LedgerEntry.seq == 3).values(outcome="allowed", code=None),
        3,
        "entry_hash_mismatch",
    ),
    (
        "hide who called",
        update(LedgerEntry).where(LedgerEntry.seq == 1).values(consumer="nobody"),
        1,
        "entry_hash_mismatch",
    ),
    (
        "backdate an entry",
        update(LedgerEntry)
        .where(LedgerEntry.seq == 2)
        .values(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
        2,
        "entry_hash_mismatch",
    ),
    ("delete an entry", delete(LedgerEntry).where(LedgerEntry.seq == 2), 2, "missing_entry"),
    ("cut the tail", delete(LedgerEntry).where(LedgerEntry.seq == 4), 4, "truncated"),
    (
        "replace a hash",
        update(LedgerEntry).where(LedgerEntry.seq == 2).values(entry_hash="ab" * 32),
        2,
        "entry_hash_mismatch",
    ),
]


@pytest.mark.parametrize(
    ("statement", "first_broken_seq", "reason"),
    [case[1:] for case in TAMPERING],
    ids=[case[0] for case in TAMPERING],
)
async def test_an_entry_edited_in_the_database_is_reported_as_the_first_broken_seq(
    app: FastAPI,
    client: httpx.AsyncClient,
    identity_svc: Headers,
    statement: Any,
    first_broken_seq: int,
    reason: str,
) -> None:
    for body in (CALL, CALL, {**CALL, "purpose": "marketing"}, CALL):
        await client.post("/exchange/v1/calls", json=body, headers=identity_svc)
    assert (await ledger_report(app)).intact
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(statement.execution_options(synchronize_session=False))
    report = await ledger_report(app)
    assert (report.first_broken_seq, report.reason) == (first_broken_seq, reason)


# The chain as a pure function, without a database.


def content(seq: int, **changes: Any) -> EntryContent:
    base = EntryContent(
        seq=seq,
        at=dt.datetime(2026, 11, 26, 9, 0, seq, tzinfo=dt.UTC),
        call_id=uuid.UUID(int=seq),
        kind="call",
        consumer="identity-svc",
        actor="identity-svc",
        resource="population",
        fields=("face_template",),
        purpose="face_verification",
        case_id=None,
        subject_hash="cd" * 32,
        outcome="allowed",
        code=None,
    )
    return dataclasses.replace(base, **changes)


def chain_of(length: int) -> list[ChainedEntry]:
    entries = []
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        body = content(seq)
        entries.append(ChainedEntry(body, prev, entry_hash(prev, body)))
        prev = entries[-1].entry_hash
    return entries


def test_an_empty_ledger_and_an_honest_chain_verify() -> None:
    assert verify_chain([]).intact
    assert verify_chain([], head=(0, GENESIS_HASH)).intact
    chain = chain_of(5)
    report = verify_chain(chain, head=(5, chain[-1].entry_hash))
    assert (report.intact, report.entries_checked) == (True, 5)


@pytest.mark.parametrize(
    ("tamper", "first_broken_seq", "reason"),
    [
        (lambda c: c[:1] + c[2:], 2, "missing_entry"),
        (lambda c: [c[0], c[2], c[1], *c[3:]], 2, "missing_entry"),
        (
            lambda c: [*c[:2], dataclasses.replace(c[2], content=content(3, kind="match")), *c[3:]],
            3,
            "entry_hash_mismatch",
        ),
        (
            lambda c: [*c[:3], dataclasses.replace(c[3], prev_hash=GENESIS_HASH), c[4]],
            4,
            "prev_hash_mismatch",
        ),
    ],
    ids=["removed", "reordered", "altered", "relinked"],
)
def test_the_first_broken_seq_is_named(
    tamper: Callable[[list[ChainedEntry]], list[ChainedEntry]],
    first_broken_seq: int,
    reason: str,
) -> None:
    report = verify_chain(tamper(chain_of(5)))
    assert (report.first_broken_seq, report.reason) == (first_broken_seq, reason)


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link() -> None:
    chain = chain_of(4)
    forged = content(2, purpose="audit")
    chain[1] = ChainedEntry(forged, chain[1].prev_hash, entry_hash(chain[1].prev_hash, forged))
    report = verify_chain(chain)
    assert (report.first_broken_seq, report.reason) == (3, "prev_hash_mismatch")


def test_the_canonical_form_is_sorted_compact_utf8_json() -> None:
    text = content(1, fields=("name",)).canonical().decode()
    assert text.startswith('{"actor":"identity-svc","at":"2026-11-26T09:00:01.000000+00:00",')
    assert " " not in text
