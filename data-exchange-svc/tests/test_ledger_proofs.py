"""The ledger's Merkle tree, proofs, signed tree heads and receipts: checked by definition, over
the API, and offline with nothing but the public key."""

import asyncio
import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, func, select

from data_exchange_svc.ledger import repository as ledger_repository
from data_exchange_svc.ledger.appender import LedgerUnavailable
from data_exchange_svc.ledger.entry import EntryContent
from data_exchange_svc.ledger.merkle import (
    Frontier,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from data_exchange_svc.ledger.service import audit
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.ledger.verify import main as verify_main
from data_exchange_svc.ledger.verify import verify_consistency_proof, verify_receipt
from data_exchange_svc.models import LedgerCheckpoint, LedgerSigningKey
from servicekit.db import utcnow

Headers = dict[str, str]

CALL = {
    "resource": "population",
    "subject": {"id_number": "330302195203140248"},
    "fields": ["registered_region"],
    "purpose": "face_verification",
}

# The tree as pure functions, against its definition.

LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(33)]


def stored_nodes(size: int) -> dict[tuple[int, int], bytes]:
    frontier, nodes = Frontier(), {}
    for leaf in LEAVES[:size]:
        nodes.update(frontier.append(leaf))
    return nodes


def test_the_hashes_are_domain_separated_sha256() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert root_of([]) == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 34))
def test_the_growing_tree_has_the_rfc6962_root_at_every_size(size: int) -> None:
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root() == root_of(LEAVES[:size])
    assert Frontier.decode(size, frontier.encode()).root() == root_of(LEAVES[:size])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 16, 31, 33])
def test_every_leaf_has_an_inclusion_proof_from_stored_nodes_only(size: int) -> None:
    nodes, root = stored_nodes(size), root_of(LEAVES[:size])
    for index in range(size):
        path = [range_hash(span, nodes) for span in inclusion_ranges(index, size)]
        assert len(path) <= size.bit_length()
        assert verify_inclusion(LEAVES[index], index, size, path, root)
        if size > 1:
            other = (index + 1) % size
            assert not verify_inclusion(LEAVES[other], index, size, path, root)
            assert not verify_inclusion(LEAVES[index], other, size, path, root)
            earlier_root = root_of(LEAVES[: size - 1])
            assert not verify_inclusion(LEAVES[index], index, size, path, earlier_root)


@pytest.mark.parametrize("second", [1, 2, 3, 7, 8, 9, 16, 31, 33])
def test_every_earlier_tree_is_proven_a_prefix_of_a_later_one(second: int) -> None:
    nodes, second_root = stored_nodes(second), root_of(LEAVES[:second])
    for first in range(second + 1):
        proof = [range_hash(span, nodes) for span in consistency_ranges(first, second)]
        first_root = root_of(LEAVES[:first])
        assert verify_consistency(first, first_root, second, second_root, proof)
        if 0 < first < second:
            forged = root_of([*LEAVES[: first - 1], leaf_hash(b"forged")])
            assert not verify_consistency(first, forged, second, second_root, proof)
            assert not verify_consistency(first, first_root, second, second_root, proof[1:])


# Over the API.


async def call(client: httpx.AsyncClient, headers: Headers, **changes: Any) -> dict[str, Any]:
    response = await client.post("/exchange/v1/calls", json={**CALL, **changes}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


async def public_key(client: httpx.AsyncClient) -> bytes:
    response = await client.get("/exchange/v1/ledger/public-key")
    assert response.status_code == 200
    return base64.b64decode(response.json()["public_key"])


async def test_a_receipt_and_its_proof_verify_offline_with_the_public_key(
    client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    bodies = [await call(client, identity_svc) for _ in range(5)]
    refused = await call(client, identity_svc, purpose="marketing")
    key = await public_key(client)
    for seq, body in enumerate([*bodies, refused], start=1):
        receipt = body["receipt"]
        assert (receipt["seq"], receipt["leaf_index"]) == (seq, seq - 1)
        assert receipt["entry"]["call_id"] == body["call_id"]
        assert receipt["tree_head"]["tree_size"] >= seq
        proof = (
            await client.get(
                f"/exchange/v1/ledger/entries/{seq}/proof",
                params={"tree_size": receipt["tree_head"]["tree_size"]},
            )
        ).json()
        assert verify_receipt(receipt, proof, key).valid
    assert refused["receipt"]["entry"]["code"] == "purpose_not_allowed"


@pytest.mark.parametrize(
    ("forge", "failure"),
    [
        (lambda r: r["entry"].update(purpose="audit"), "not_included"),
        (lambda r: r["entry"].update(outcome="refused"), "not_included"),
        (lambda r: r["tree_head"].update(root_hash="00" * 32), "bad_signature"),
        (
            lambda r: r["tree_head"].update(timestamp="2020-01-01T00:00:00.000000+00:00"),
            "bad_signature",
        ),
        (lambda r: r.update(seq=1, leaf_index=0), "seq_mismatch"),
    ],
    ids=["purpose", "outcome", "root", "timestamp", "seq"],
)
async def test_a_forged_receipt_is_refused_offline_and_by_the_endpoint(
    client: httpx.AsyncClient, identity_svc: Headers, forge: Any, failure: str
) -> None:
    await call(client, identity_svc)
    receipt = (await call(client, identity_svc))["receipt"]
    key = await public_key(client)
    size = receipt["tree_head"]["tree_size"]
    proof = (await client.get(f"/exchange/v1/ledger/entries/2/proof?tree_size={size}")).json()
    verdict = await client.post("/exchange/v1/ledger/receipts/verify", json=receipt)
    assert verdict.json() == {"valid": True, "failure": None}

    forge(receipt)
    assert verify_receipt(receipt, proof, key).failure == failure
    verdict = await client.post("/exchange/v1/ledger/receipts/verify", json=receipt)
    assert verdict.json()["valid"] is False


async def test_tree_heads_are_consistent_with_each_other(
    client: httpx.AsyncClient, identity_svc: Headers
) -> None:
    heads = []
    for _ in range(6):
        heads.append((await call(client, identity_svc))["receipt"]["tree_head"])
    latest = (await client.get("/exchange/v1/ledger/checkpoints/latest")).json()
    assert latest == heads[-1]
    key = await public_key(client)
    for first in heads:
        for second in heads[heads.index(first) :]:
            response = await client.get(
                "/exchange/v1/ledger/consistency",
                params={"first": first["tree_size"], "second": second["tree_size"]},
            )
            assert response.status_code == 200, response.text
            assert verify_consistency_proof(first, second, response.json()["proof"], key).valid
    forged = {**heads[1], "root_hash": heads[2]["root_hash"]}
    proof = (await client.get("/exchange/v1/ledger/consistency?first=2&second=6")).json()["proof"]
    assert not verify_consistency_proof(forged, heads[5], proof, key).valid


async def test_the_command_line_verifies_a_saved_receipt_and_proofs(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = await call(client, identity_svc)
    second = await call(client, identity_svc)
    key = (await client.get("/exchange/v1/ledger/public-key")).json()["public_key"]
    proof = (await client.get("/exchange/v1/ledger/entries/1/proof?tree_size=2")).json()
    consistency = (await client.get("/exchange/v1/ledger/consistency?first=1&second=2")).json()
    files = {
        "response": first,
        "proof": proof,
        "head1": first["receipt"]["tree_head"],
        "head2": second["receipt"]["tree_head"],
        "consistency": consistency,
    }
    for name, document in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    # The proof is for tree size 2, the receipt's head is size 1: a mismatch, named.
    assert (
        verify_main(
            [
                "receipt",
                str(tmp_path / "response.json"),
                "--proof",
                str(tmp_path / "proof.json"),
                "--public-key",
                key,
            ]
        )
        == 1
    )
    assert json.loads(capsys.readouterr().out)["failure"] == "tree_size_mismatch"
    proof_at_1 = (await client.get("/exchange/v1/ledger/entries/1/proof?tree_size=1")).json()
    (tmp_path / "proof.json").write_text(json.dumps(proof_at_1))
    assert (
        verify_main(
            [
                "receipt",
                str(tmp_path / "response.json"),
                "--proof",
                str(tmp_path / "proof.json"),
                "--public-key",
                key,
            ]
        )
        == 0
    )
    consistency_command = [
        "consistency",
        *(str(tmp_path / f"{n}.json") for n in ("head1", "head2", "consistency")),
    ]
    assert verify_main([*consistency_command, "--public-key", key]) == 0
    other_key = LedgerSigner.generate()
    import base64

    assert (
        verify_main(
            [*consistency_command, "--public-key", base64.b64encode(other_key.public_key).decode()]
        )
        == 1
    )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/exchange/v1/ledger/entries/1/proof", 404, "ledger_empty"),
        ("/exchange/v1/ledger/checkpoints/latest", 404, "ledger_empty"),
        ("/exchange/v1/ledger/consistency?first=0&second=1", 404, "ledger_empty"),
    ],
)
async def test_an_empty_ledger_has_no_tree_head_yet(
    client: httpx.AsyncClient, path: str, status: int, code: str, problem: Any
) -> None:
    problem(await client.get(path), status, code)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/exchange/v1/ledger/entries/3/proof", 422, "invalid_tree_size"),
        ("/exchange/v1/ledger/entries/1/proof?tree_size=3", 422, "invalid_tree_size"),
        ("/exchange/v1/ledger/entries/0/proof", 404, "entry_not_found"),
        ("/exchange/v1/ledger/entries/2/proof?tree_size=1", 422, "invalid_tree_size"),
        ("/exchange/v1/ledger/consistency?first=2&second=1", 422, "invalid_tree_size"),
        ("/exchange/v1/ledger/consistency?first=1&second=5", 422, "invalid_tree_size"),
        ("/exchange/v1/ledger/consistency?first=-1&second=1", 422, "validation_failed"),
        ("/exchange/v1/ledger/entries/x/proof", 422, "validation_failed"),
    ],
)
async def test_proofs_outside_the_published_tree_are_refused(
    client: httpx.AsyncClient,
    identity_svc: Headers,
    path: str,
    status: int,
    code: str,
    problem: Any,
) -> None:
    await call(client, identity_svc)
    await call(client, identity_svc)
    problem(await client.get(path), status, code)


# The appender and its key.


def draft(number: int) -> EntryContent:
    return EntryContent(
        seq=0,
        at=utcnow(),
        call_id=uuid.UUID(int=number),
        kind="call",
        consumer="identity-svc",
        actor="identity-svc",
        resource="population",
        fields=("name",),
        purpose="real_name_verification",
        case_id=None,
        subject_hash="cd" * 32,
        outcome="allowed",
        code=None,
    )


async def test_entries_queued_together_are_appended_in_one_batch_under_one_tree_head(
    app: FastAPI,
) -> None:
    receipts = await asyncio.gather(
        *(app.state.service.ledger.append(draft(n)) for n in range(1, 41))
    )
    assert [receipt.entry.seq for receipt in receipts] == list(range(1, 41))
    assert {receipt.tree_head.tree_size for receipt in receipts} == {40}
    async with app.state.service.database.sessionmaker() as session:
        heads = await session.scalar(select(func.count()).select_from(LedgerCheckpoint))
    assert heads == 1


async def test_a_batch_of_any_size_is_its_turn_on_the_head_and_four_writes(app: FastAPI) -> None:
    """Every statement of a batch is a round trip made while the batch holds the head row: the
    turn, then the entries, their nodes, the frontier and the signed head, each one statement
    however many entries the batch has."""
    await app.state.service.ledger.append(draft(1))  # the head row exists from here on
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The ledger's statements alone: the outbox relays poll their tables meanwhile.
        if "ledger_" in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        receipts = await asyncio.gather(
            *(app.state.service.ledger.append(draft(n)) for n in range(2, 12))
        )
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert {receipt.tree_head.tree_size for receipt in receipts} == {11}
    assert [statement.split()[:3] for statement in statements] == [
        ["UPDATE", "ledger_head", "SET"],
        ["INSERT", "INTO", "ledger_entry"],
        ["INSERT", "INTO", "ledger_node"],
        ["UPDATE", "ledger_head", "SET"],
        ["INSERT", "INTO", "ledger_checkpoint"],
    ], statements
    async with app.state.service.database.sessionmaker() as session:
        report = await audit(session, app.state.service.ledger_signer.public_key)
    assert (report.intact, report.entries_checked, report.checkpoints_checked) == (True, 11, 2)


async def test_a_failed_batch_refuses_its_callers_and_the_next_batch_writes_afresh(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The appender keeps its connection between batches, and gives it up when a batch fails:
    that batch's callers get ``ledger_unavailable``, the next batch is written as usual."""
    take_turn = ledger_repository.take_turn

    async def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(ledger_repository, "take_turn", broken)
    with pytest.raises(LedgerUnavailable):
        await app.state.service.ledger.append(draft(1))
    monkeypatch.setattr(ledger_repository, "take_turn", take_turn)
    receipt = await app.state.service.ledger.append(draft(2))
    assert (receipt.entry.seq, receipt.tree_head.tree_size) == (1, 1)
    async with app.state.service.database.sessionmaker() as session:
        report = await audit(session, app.state.service.ledger_signer.public_key)
    assert (report.intact, report.entries_checked) == (True, 1)


async def test_the_signing_key_is_stored_sealed_and_kept_across_restarts(
    app: FastAPI,
    client: httpx.AsyncClient,
    service_under_test: Any,
    settings: Any,
    token_minter: Any,
) -> None:
    first_key = await public_key(client)
    async with app.state.service.database.sessionmaker() as session:
        stored = await session.get(LedgerSigningKey, 1)
    assert stored is not None
    assert stored.public_key == first_key
    unsealed = LedgerSigner.unseal(
        stored.private_key_sealed, settings.ledger_key_encryption_key_bytes
    )
    assert unsealed.public_key == first_key
    assert len(stored.private_key_sealed) == 12 + 32 + 16
    with pytest.raises(RuntimeError, match="key-encryption key"):
        LedgerSigner.unseal(stored.private_key_sealed, b"\x01" * 32)
    again = service_under_test.create_app(settings, jwks=token_minter.jwks)
    async with again.router.lifespan_context(again):
        assert again.state.service.ledger_signer.public_key == first_key


async def test_two_instances_on_one_database_append_in_turn(
    app: FastAPI, service_under_test: Any, settings: Any, token_minter: Any
) -> None:
    other = service_under_test.create_app(settings, jwks=token_minter.jwks)
    async with other.router.lifespan_context(other):
        appenders = [app.state.service.ledger, other.state.service.ledger]
        receipts = await asyncio.gather(*(appenders[n % 2].append(draft(n)) for n in range(1, 61)))
    assert sorted(receipt.entry.seq for receipt in receipts) == list(range(1, 61))
    async with app.state.service.database.sessionmaker() as session:
        report = await audit(session, app.state.service.ledger_signer.public_key)
    assert (report.intact, report.entries_checked) == (True, 60)


async def test_without_its_ledger_the_exchange_answers_nothing(
    app: FastAPI, client: httpx.AsyncClient, identity_svc: Headers, problem: Any
) -> None:
    await app.state.service.ledger.stop()
    body = problem(
        await client.post("/exchange/v1/calls", json=CALL, headers=identity_svc),
        503,
        "ledger_unavailable",
    )
    assert "fields" not in body
