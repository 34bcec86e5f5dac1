"""the kit's idempotency records

Creating requests honour an ``Idempotency-Key`` (``servicekit.idempotency``): a retry with its
key answers the first answer instead of creating again.

Revision ID: 8f3b6a2e0c15
Revises: 5a1c0e9b7d42
Create Date: 2026-12-07 00:10:00
"""

from collections.abc import Sequence

from servicekit.migrations import create_idempotency_records, drop_idempotency_records

revision: str = "8f3b6a2e0c15"
down_revision: str | None = "5a1c0e9b7d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_records()


def downgrade() -> None:
    drop_idempotency_records()
