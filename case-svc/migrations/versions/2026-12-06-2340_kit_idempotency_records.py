"""the kit's idempotency records

The submission keys move to the kit's record (``servicekit.idempotency``): scoped to the caller
as ``typ:sub``, with a lock while a request is in flight and an expiry. The keys already
answered are carried over, each with its answer, so a retry of a submission made before the
upgrade still answers its case; they carry no fingerprint (the kit digests requests another
way), so they replay for any body sent with their key.

Revision ID: 5d0c3a7e91b2
Revises: cb2ff3ad701e
Create Date: 2026-12-06 23:40:00
"""

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_idempotency_records, drop_idempotency_records

revision: str = "5d0c3a7e91b2"
down_revision: str | None = "cb2ff3ad701e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The kit's default ``idempotency_ttl_seconds``: how long a carried-over key is kept.
_TTL = dt.timedelta(hours=24)


def upgrade() -> None:
    connection = op.get_bind()
    answered = connection.execute(
        sa.text(
            "SELECT r.key, r.response_status, r.response_body, r.created_at,"
            " c.applicant_type, c.applicant_id, c.case_no, c.version"
            ' FROM idempotency_record r JOIN "case" c ON c.id = r.case_id'
            " WHERE r.response_status IS NOT NULL"
        )
    ).all()
    op.drop_table("idempotency_record")
    table = create_idempotency_records()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for key, status, body, created_at, typ, sub, case_no, version in answered:
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=dt.UTC)
        if created + _TTL <= now:
            continue
        rows.append(
            {
                "id": uuid.uuid4(),
                "owner": f"{typ}:{sub}",
                "key": key,
                "fingerprint": None,
                "lock_token": uuid.uuid4(),
                "locked_until": None,
                "expires_at": created + _TTL,
                "response_status": status,
                "response_headers": {
                    "content-type": "application/json",
                    "location": f"/cases/v1/cases/{case_no}",
                    "etag": f'"{version}"',
                },
                "response_body": body if isinstance(body, dict) else json.loads(body),
                "created_at": created,
            }
        )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    # The kit's records are scoped and shaped differently: the keys are forgotten, which only
    # means a retry within a day of the downgrade is filed anew.
    drop_idempotency_records()
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("applicant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_idempotency_record_case_id_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("applicant_id", "key", name=op.f("uq_idempotency_record_applicant_id")),
    )
