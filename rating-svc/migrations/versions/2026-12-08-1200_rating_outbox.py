"""rating-svc's outbox

rating.created, rectification.opened, rectification.overdue and rectification.closed are
written in the transaction of their change (``servicekit.events``) and relayed to the
subscribers ``RATING_EVENT_SUBSCRIBERS`` names.

Revision ID: 9c4a1e7f2d58
Revises: 5d2e7a9c1b34
Create Date: 2026-12-08 12:00:00
"""

from collections.abc import Sequence

from servicekit.migrations import create_outbox_events, drop_outbox_events

revision: str = "9c4a1e7f2d58"
down_revision: str | None = "5d2e7a9c1b34"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_events()


def downgrade() -> None:
    drop_outbox_events()
