"""the kit's idempotency records

Ratings honour an ``Idempotency-Key`` (``servicekit.idempotency``): a retried rating answers the
first answer instead of ``already_rated``.

Revision ID: 3e8a5c1d9f47
Revises: 472c09d1447a
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

from servicekit.migrations import create_idempotency_records, drop_idempotency_records

revision: str = "3e8a5c1d9f47"
down_revision: str | None = "472c09d1447a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_records()


def downgrade() -> None:
    drop_idempotency_records()
