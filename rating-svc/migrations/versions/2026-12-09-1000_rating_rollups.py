"""rating roll-ups

The published figures per period (day, month), dimension and key, kept incrementally by the
changes that move them. The ratings and rectifications already there are counted in once here.

Revision ID: 6e3b8f1a4c27
Revises: 2a7d5c3e9b61
Create Date: 2026-12-09 10:00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6e3b8f1a4c27"
down_revision: str | None = "2a7d5c3e9b61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "ratings",
    "level_5",
    "level_4",
    "level_3",
    "level_2",
    "level_1",
    "bad_reviews",
    "rectifications_opened",
    "rectifications_closed",
    "rectifications_on_time",
    "follow_ups",
    "follow_ups_satisfied",
)


def upgrade() -> None:
    op.create_table(
        "rating_rollup",
        sa.Column("dimension", sa.String(length=24), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.PrimaryKeyConstraint(
            "dimension",
            "scope",
            "granularity",
            "key",
            "period_start",
            name=op.f("pk_rating_rollup"),
        ),
    )
    _count_what_is_there()


def _aware(instant: dt.datetime) -> dt.datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def _count_what_is_there() -> None:
    """The roll-ups of the ratings written before, with the rows the service adds
    (``rating_svc.statistics.rollups``, pure functions of a change)."""
    from rating_svc.statistics import rollups

    rating = sa.table(
        "rating",
        sa.column("id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("level", sa.Integer()),
        sa.column("bad_review", sa.Boolean()),
        sa.column("department_id", sa.String()),
        sa.column("item_code", sa.String()),
        sa.column("region_code", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("excluded_at", sa.DateTime(timezone=True)),
    )
    rectification = sa.table(
        "rectification",
        sa.column("rating_id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("rectified_at", sa.DateTime(timezone=True)),
        sa.column("rectification_due_at", sa.DateTime(timezone=True)),
        sa.column("follow_up_rating_id", sa.Uuid()),
    )
    follow_up = rating.alias("follow_up")
    query = (
        sa.select(
            rating.c.level,
            rating.c.bad_review,
            rating.c.department_id,
            rating.c.item_code,
            rating.c.region_code,
            rating.c.created_at,
            rectification.c.status,
            rectification.c.rectified_at,
            rectification.c.rectification_due_at,
            follow_up.c.level,
        )
        .select_from(
            rating.outerjoin(rectification, rectification.c.rating_id == rating.c.id).outerjoin(
                follow_up, follow_up.c.id == rectification.c.follow_up_rating_id
            )
        )
        .where(rating.c.kind == "case", rating.c.excluded_at.is_(None))
    )
    totals: dict[rollups.Key, dict[str, int]] = {}
    for row in op.get_bind().execute(query):
        level, bad, department, item, region, at, status, rectified, due, follow_level = row
        deltas = [rollups.rating_deltas(level, bool(bad))]
        if status == "closed":
            on_time = rectified is not None and _aware(rectified) <= _aware(due)
            deltas.append(rollups.closed_deltas(on_time))
        if follow_level is not None:
            deltas.append(rollups.follow_up_deltas(follow_level))
        keys = rollups.keys_of(
            department_id=department, item_code=item, region_code=region, at=_aware(at)
        )
        for key in keys:
            counts = totals.setdefault(key, dict.fromkeys(COUNTERS, 0))
            for each in deltas:
                for column, value in each.items():
                    counts[column] += value
    if totals:
        table = sa.table(
            "rating_rollup",
            *(sa.column(name) for name in rollups.KEY_COLUMNS),
            *(sa.column(name, sa.Integer()) for name in COUNTERS),
        )
        op.bulk_insert(
            table,
            [
                {**dict(zip(rollups.KEY_COLUMNS, key, strict=True)), **counts}
                for key, counts in sorted(totals.items())
            ],
        )


def downgrade() -> None:
    op.drop_table("rating_rollup")
