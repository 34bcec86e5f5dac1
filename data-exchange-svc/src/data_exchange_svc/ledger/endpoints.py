"""HTTP endpoints of the public ledger: tree heads, proofs, the public key, receipt checks.

Public, like a certificate-transparency log: they disclose hashes and signatures, never an
entry's content (which a receipt gives only to the caller it concerns).
"""

from typing import Annotated

from fastapi import APIRouter, Query

from data_exchange_svc.deps import LedgerSignerDep
from data_exchange_svc.ledger import service
from data_exchange_svc.ledger.schemas import (
    ConsistencyProofRead,
    InclusionProofRead,
    PublicKeyRead,
    ReceiptRead,
    SignedTreeHeadRead,
    VerdictRead,
)
from data_exchange_svc.ledger.service import EntryNotFound, LedgerEmpty, TreeSizeNotPublished
from data_exchange_svc.ledger.signing import b64
from data_exchange_svc.ledger.verify import Verdict, verify_receipt
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.problems import DomainError

router = APIRouter(prefix="/exchange/v1/ledger", tags=["ledger"])

TreeSize = Annotated[int, Query(ge=0, le=2**62)]


@router.get(
    "/checkpoints/latest",
    response_model=SignedTreeHeadRead,
    responses=problem_responses(LedgerEmpty),
)
async def latest_checkpoint(session: SessionDep, signer: LedgerSignerDep) -> SignedTreeHeadRead:
    """The newest signed tree head. Every batch of appends publishes one."""
    head = await service.latest_tree_head(session)
    return SignedTreeHeadRead(**head.document(), key_id=signer.key_id)


@router.get(
    "/entries/{seq}/proof",
    response_model=InclusionProofRead,
    responses=problem_responses(LedgerEmpty, EntryNotFound, TreeSizeNotPublished),
)
async def inclusion_proof(
    seq: int, session: SessionDep, tree_size: TreeSize | None = None
) -> InclusionProofRead:
    """The audit path of entry ``seq`` to the root of the tree of ``tree_size`` entries (by
    default the latest signed tree head)."""
    proof = await service.inclusion_proof(session, seq, tree_size)
    return InclusionProofRead(
        seq=proof.seq,
        leaf_index=proof.leaf_index,
        tree_size=proof.tree_size,
        leaf_hash=proof.leaf_hash.hex(),
        audit_path=[step.hex() for step in proof.audit_path],
    )


@router.get(
    "/consistency",
    response_model=ConsistencyProofRead,
    responses=problem_responses(LedgerEmpty, TreeSizeNotPublished),
)
async def consistency_proof(
    session: SessionDep, first: TreeSize, second: TreeSize
) -> ConsistencyProofRead:
    """The proof that the tree of ``first`` entries is a prefix of the tree of ``second``."""
    proof = await service.consistency_proof(session, first, second)
    return ConsistencyProofRead(first=first, second=second, proof=[step.hex() for step in proof])


@router.get("/public-key", response_model=PublicKeyRead)
async def public_key(signer: LedgerSignerDep) -> PublicKeyRead:
    return PublicKeyRead(public_key=b64(signer.public_key), key_id=signer.key_id)


@router.post("/receipts/verify", response_model=VerdictRead)
async def verify_a_receipt(
    receipt: ReceiptRead, session: SessionDep, signer: LedgerSignerDep
) -> VerdictRead:
    """Check a receipt here rather than offline: its tree head's signature, and its entry's
    inclusion in that tree by a proof computed from the ledger."""
    try:
        proof = await service.inclusion_proof(session, receipt.seq, receipt.tree_head.tree_size)
    except DomainError as exc:
        return VerdictRead(valid=False, failure=exc.code)
    proof_document = {
        "seq": proof.seq,
        "tree_size": proof.tree_size,
        "audit_path": [step.hex() for step in proof.audit_path],
    }
    verdict: Verdict = verify_receipt(receipt.model_dump(), proof_document, signer.public_key)
    return VerdictRead(valid=verdict.valid, failure=verdict.failure)
