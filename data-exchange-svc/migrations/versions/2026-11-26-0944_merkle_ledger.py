"""merkle ledger: the hash chain gives way to an RFC 6962 tree with signed tree heads

The chain's head row is derived state and is rebuilt. Entries recorded under the chain become
the tree's first leaves, hashed here from their canonical JSON with the rules frozen in this
file (so that later code changes cannot change what this migration did); the next append signs
the first tree head over them. Downgrading drops the tree, so it refuses over a non-empty ledger.

Revision ID: 7a92cb67edb7
Revises: 6a54e33e8ca7
Create Date: 2026-11-26 09:44:52.496064
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a92cb67edb7"
down_revision: str | None = "6a54e33e8ca7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ENTRY = sa.table(
    "ledger_entry",
    sa.column("seq", sa.BigInteger()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("call_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("consumer", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("resource", sa.String()),
    sa.column("fields", sa.JSON()),
    sa.column("purpose", sa.String()),
    sa.column("case_id", sa.String()),
    sa.column("subject_hash", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("code", sa.String()),
)


def _leaf(row: sa.Row[tuple[object, ...]]) -> bytes:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    document = {
        "seq": row.seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "call_id": str(row.call_id),
        "kind": row.kind,
        "consumer": row.consumer,
        "actor": row.actor,
        "resource": row.resource,
        "fields": list(row.fields),
        "purpose": row.purpose,
        "case_id": row.case_id,
        "subject_hash": row.subject_hash,
        "outcome": row.outcome,
        "code": row.code,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def _build_tree_over_existing_entries() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_ENTRY).order_by(_ENTRY.c.seq)).all()
    frontier: list[bytes] = []
    nodes: list[dict[str, object]] = []
    for index, row in enumerate(rows):
        if row.seq != index + 1:
            raise RuntimeError(f"the ledger has a gap before entry {row.seq}: audit it first")
        node, level = _leaf(row), 0
        nodes.append({"id": index, "hash": node})
        while index >> level & 1:
            node = hashlib.sha256(b"\x01" + frontier.pop() + node).digest()
            level += 1
            nodes.append({"id": level << 56 | index >> level, "hash": node})
        frontier.append(node)
    if nodes:
        node_table = sa.table("ledger_node", sa.column("id"), sa.column("hash"))
        bind.execute(node_table.insert(), nodes)
    head_table = sa.table("ledger_head", sa.column("id"), sa.column("size"), sa.column("frontier"))
    if rows:
        bind.execute(head_table.insert().values(id=1, size=len(rows), frontier=b"".join(frontier)))


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_ledger_checkpoint")),
    )
    op.create_table(
        "ledger_node",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_node")),
    )
    op.create_table(
        "ledger_signing_key",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_signing_key")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("entry_hash")

    op.drop_table("ledger_head")
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    _build_tree_over_existing_entries()


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar():
        raise RuntimeError("ledger entries recorded in the tree cannot be chained back")
    op.drop_table("ledger_head")
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )

    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False))

    op.drop_table("ledger_signing_key")
    op.drop_table("ledger_node")
    op.drop_table("ledger_checkpoint")
