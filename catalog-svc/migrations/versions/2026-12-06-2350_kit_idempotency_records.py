"""the kit's idempotency records

Item creations' keys move to the kit's record (``servicekit.idempotency``), scoped to the caller
as ``typ:sub`` (administrators are staff), with a lock while a request is in flight and an
expiry. The keys already answered within the kit's 24 hours are carried over with their answer;
they have no fingerprint (the kit digests requests another way), so they replay for any body.

Revision ID: 9b1f4e2c7a30
Revises: e4d9c3d91ff7
Create Date: 2026-12-06 23:50:00
"""

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_idempotency_records, drop_idempotency_records

revision: str = "9b1f4e2c7a30"
down_revision: str | None = "e4d9c3d91ff7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TTL = dt.timedelta(hours=24)


def upgrade() -> None:
    answered = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT actor, key, response_status, response_body, created_at"
                " FROM item_creation_key WHERE response_status IS NOT NULL"
            )
        )
        .all()
    )
    op.drop_table("item_creation_key")
    table = create_idempotency_records()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for actor, key, status, body, created_at in answered:
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=dt.UTC)
        draft = body if isinstance(body, dict) else json.loads(body)
        if created + _TTL <= now:
            continue
        rows.append(
            {
                "id": uuid.uuid4(),
                "owner": f"staff:{actor}",
                "key": key,
                "fingerprint": None,
                "lock_token": uuid.uuid4(),
                "locked_until": None,
                "expires_at": created + _TTL,
                "response_status": status,
                "response_headers": {
                    "content-type": "application/json",
                    "cache-control": "no-store",
                    "location": f"/catalog/v1/admin/items/{draft['code']}/draft",
                    "etag": f'"{draft["based_on_version"] or 0}.{draft["revision"]}"',
                },
                "response_body": draft,
                "created_at": created,
            }
        )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    # The keys are forgotten: a retry within a day of the downgrade creates anew (and is
    # refused as item_code_taken, since codes are never reused).
    drop_idempotency_records()
    op.create_table(
        "item_creation_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_creation_key")),
        sa.UniqueConstraint("actor", "key", name=op.f("uq_item_creation_key_actor")),
    )
