"""The access ledger: every match and call, allowed or refused, in a Merkle tree whose signed
heads make tampering show."""

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, text, update

from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger import repository
from data_exchange_svc.ledger.merkle import Frontier, node_id
from data_exchange_svc.ledger.service import LedgerReport, audit, content_of
from data_exchange_svc.ledger.verify import main as verify_main
from data_exchange_svc.models import LedgerCheckpoint, LedgerEntry, LedgerNode
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
    async with app.state.service.database.sessionmaker() as session:
        return await repository.entries_in_order(session)


async def ledger_report(app: FastAPI) -> LedgerReport:
    async with app.state.service.database.sessionmaker() as session:
        return await audit(session, app.state.service.ledger_signer.public_key)


async def test_every_match_and_call_allowed_or_refused_is_in_the_ledger_in_order(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers, token_minter: TokenMinter
) -> None:
    stranger = bearer(token_minter.mint("rating-svc", typ="service", loa=0))
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
        "rating-svc",
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
    protector: IdentifierProtector = app.state.service.identifiers
    (entry,) = await ledger_entries(app)
    assert entry.subject_hash == protector.lookup_hash(DEMO_ID)
    async with app.state.service.database.sessionmaker() as session:
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


async def test_concurrent_calls_take_consecutive_numbers_and_keep_the_tree(
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


def rewrite_entry_with_its_leaf_and_nodes(seq: int) -> Callable[[Any], Awaitable[None]]:
    """Edit an entry and recompute its stored leaf and every stored node above it: a forger
    with write access to the tables, but not to the signing key."""

    async def edit(session: Any) -> None:
        await session.execute(
            update(LedgerEntry).where(LedgerEntry.seq == seq).values(purpose="audit")
        )
        entries = await repository.entries_in_order(session)
        frontier = Frontier()
        for entry in entries:
            for key, value in frontier.append(content_of(entry).leaf_hash()):
                await session.execute(
                    update(LedgerNode).where(LedgerNode.id == node_id(key)).values(hash=value)
                )

    return edit


def run(statement: Any) -> Callable[[Any], Awaitable[None]]:
    async def edit(session: Any) -> None:
        await session.execute(statement.execution_options(synchronize_session=False))

    return edit


TAMPERING: list[tuple[str, Callable[[Any], Awaitable[None]], int, str]] = [
    (
        "rewrite a purpose",
        run(update(LedgerEntry).where(LedgerEntry.seq == 2).values(purpose="audit")),
        2,
        "leaf_mismatch",
    ),
    (
        "turn a refusal into an allowed call",
        run(update(LedgerEntry).where(LedgerEntry.seq == 3).values(outcome="allowed", code=None)),
        3,
        "leaf_mismatch",
    ),
    (
        "hide who called",
        run(update(LedgerEntry).where(LedgerEntry.seq == 1).values(consumer="nobody")),
        1,
        "leaf_mismatch",
    ),
    (
        "backdate an entry",
        run(
            update(LedgerEntry)
            .where(LedgerEntry.seq == 2)
            .values(at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        ),
        2,
        "leaf_mismatch",
    ),
    ("delete an entry", run(delete(LedgerEntry).where(LedgerEntry.seq == 2)), 2, "missing_entry"),
    ("cut the tail", run(delete(LedgerEntry).where(LedgerEntry.seq == 4)), 4, "truncated"),
    (
        "replace a leaf hash",
        run(update(LedgerNode).where(LedgerNode.id == node_id((0, 1))).values(hash=b"\xab" * 32)),
        2,
        "leaf_mismatch",
    ),
    (
        "replace an inner node",
        run(update(LedgerNode).where(LedgerNode.id == node_id((1, 1))).values(hash=b"\xab" * 32)),
        3,
        "node_mismatch",
    ),
    (
        "rewrite an entry with its leaf and nodes",
        rewrite_entry_with_its_leaf_and_nodes(3),
        3,
        "checkpoint_mismatch",
    ),
    (
        "forge a tree head",
        run(
            update(LedgerCheckpoint)
            .where(LedgerCheckpoint.tree_size == 2)
            .values(signature=b"\x00" * 64)
        ),
        2,
        "bad_signature",
    ),
]


@pytest.mark.parametrize(
    ("edit", "first_broken_seq", "reason"),
    [case[1:] for case in TAMPERING],
    ids=[case[0] for case in TAMPERING],
)
async def test_an_entry_edited_in_the_database_is_reported_as_the_first_broken_seq(
    app: FastAPI,
    client: httpx.AsyncClient,
    identity_svc: Headers,
    edit: Callable[[Any], Awaitable[None]],
    first_broken_seq: int,
    reason: str,
) -> None:
    for body in (CALL, CALL, {**CALL, "purpose": "marketing"}, CALL):
        await client.post("/exchange/v1/calls", json=body, headers=identity_svc)
    assert (await ledger_report(app)).intact
    async with app.state.service.database.sessionmaker.begin() as session:
        await edit(session)
    report = await ledger_report(app)
    assert (report.first_broken_seq, report.reason) == (first_broken_seq, reason)


async def test_the_command_line_audit_names_the_broken_entry(
    app: FastAPI,
    client: httpx.AsyncClient,
    identity_svc: Headers,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(3):
        await client.post("/exchange/v1/calls", json=CALL, headers=identity_svc)
    arguments = ["database", "--database-url", settings.database_url]
    assert await asyncio.to_thread(verify_main, arguments) == 0
    assert json.loads(capsys.readouterr().out)["entries_checked"] == 3
    async with app.state.service.database.sessionmaker.begin() as session:
        await session.execute(
            update(LedgerEntry).where(LedgerEntry.seq == 2).values(case_id="330302-x")
        )
    assert await asyncio.to_thread(verify_main, arguments) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["first_broken_seq"], report["reason"]) == (2, "leaf_mismatch")
