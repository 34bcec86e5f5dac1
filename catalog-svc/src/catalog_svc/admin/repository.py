"""Every query the administration of items makes: drafts and their approvals, published
versions, the audit trail and creation keys.

Races are settled by the database: a draft is opened by an insert that does nothing when one
exists; an edit, an approval and a publication name the revision they read (``UPDATE``/``DELETE
… WHERE revision = :read``), so that of two writers who read the same revision one wins and the
other finds no row; a creation key is claimed by an insert that does nothing on conflict, and
the loser reads the winner's answer once the winner's transaction has ended.
"""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.admin.auth import Administrator
from catalog_svc.models import (
    ItemAuditEntry,
    ServiceItem,
    ServiceItemDraft,
    ServiceItemVersion,
)
from servicekit.db import insert_for
from servicekit.ids import new_id

# --- drafts ------------------------------------------------------------------------------------


async def draft(session: AsyncSession, code: str) -> ServiceItemDraft | None:
    found: ServiceItemDraft | None = await session.scalar(
        select(ServiceItemDraft)
        .where(ServiceItemDraft.code == code)
        .execution_options(populate_existing=True)
    )
    return found


async def insert_draft(
    session: AsyncSession,
    *,
    code: str,
    based_on_version: int | None,
    content: dict[str, Any],
    by: Administrator,
    now: dt.datetime,
) -> ServiceItemDraft | None:
    """Open a draft: the draft, or None when the item has one already."""
    statement = (
        insert_for(session, ServiceItemDraft)
        .values(
            code=code,
            based_on_version=based_on_version,
            revision=1,
            content=content,
            created_at=now,
            updated_at=now,
            updated_by=by.sub,
            updated_by_dept=by.dept,
        )
        .on_conflict_do_nothing(index_elements=["code"])
        .returning(ServiceItemDraft)
    )
    opened: ServiceItemDraft | None = (await session.scalars(statement)).one_or_none()
    return opened


async def update_draft(
    session: AsyncSession,
    *,
    code: str,
    read_revision: int,
    content: dict[str, Any],
    by: Administrator,
    now: dt.datetime,
) -> ServiceItemDraft | None:
    """Write the draft's new content if it is still at the revision read: the draft as
    written, or None when another write came first."""
    statement = (
        update(ServiceItemDraft)
        .where(ServiceItemDraft.code == code, ServiceItemDraft.revision == read_revision)
        .values(
            content=content,
            revision=read_revision + 1,
            updated_at=now,
            updated_by=by.sub,
            updated_by_dept=by.dept,
            # An approval is of the revision its approver read.
            approved_by=None,
            approved_by_dept=None,
            approved_at=None,
        )
        .returning(ServiceItemDraft)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    edited: ServiceItemDraft | None = (await session.scalars(statement)).one_or_none()
    return edited


async def approve_draft(
    session: AsyncSession, *, code: str, read_revision: int, by: Administrator, now: dt.datetime
) -> ServiceItemDraft | None:
    """Record the approval of the draft if it is still at the revision read and not approved:
    the draft approved, or None when an edit or another approval came first."""
    statement = (
        update(ServiceItemDraft)
        .where(
            ServiceItemDraft.code == code,
            ServiceItemDraft.revision == read_revision,
            ServiceItemDraft.approved_by.is_(None),
        )
        .values(approved_by=by.sub, approved_by_dept=by.dept, approved_at=now)
        .returning(ServiceItemDraft)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    approved: ServiceItemDraft | None = (await session.scalars(statement)).one_or_none()
    return approved


async def delete_draft(session: AsyncSession, *, code: str, read_revision: int) -> bool:
    """Remove the draft (it is being published) if it is still at the revision read."""
    statement = (
        delete(ServiceItemDraft)
        .where(ServiceItemDraft.code == code, ServiceItemDraft.revision == read_revision)
        .returning(ServiceItemDraft.code)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def name_in_use(session: AsyncSession, name: str, *, other_than: str) -> bool:
    """Whether another item, published, withdrawn or in a draft, has this name."""
    in_items = exists().where(ServiceItem.name == name, ServiceItem.code != other_than)
    in_drafts = exists().where(
        ServiceItemDraft.content["name"].as_string() == name,
        ServiceItemDraft.code != other_than,
    )
    return bool(await session.scalar(select(or_(in_items, in_drafts))))


# --- published items and their versions -------------------------------------------------------


async def item(session: AsyncSession, code: str) -> ServiceItem | None:
    found: ServiceItem | None = await session.scalar(
        select(ServiceItem)
        .where(ServiceItem.code == code)
        .execution_options(populate_existing=True)
    )
    return found


async def withdraw(session: AsyncSession, *, code: str, now: dt.datetime) -> ServiceItem | None:
    """Withdraw the item if it is published: the item withdrawn, or None when it was not
    published."""
    statement = (
        update(ServiceItem)
        .where(ServiceItem.code == code, ServiceItem.status == "published")
        .values(status="withdrawn", changed_at=now, maintained_by="administration")
        .returning(ServiceItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    withdrawn: ServiceItem | None = (await session.scalars(statement)).one_or_none()
    return withdrawn


async def version_recorded(session: AsyncSession, code: str, version: int) -> bool:
    return await session.get(ServiceItemVersion, (code, version)) is not None


async def record_version(
    session: AsyncSession,
    *,
    code: str,
    version: int,
    content: dict[str, Any],
    published_at: dt.datetime,
    by: Administrator | None,
) -> None:
    session.add(
        ServiceItemVersion(
            code=code,
            version=version,
            content=content,
            published_at=published_at,
            published_by=by.sub if by else None,
            published_by_dept=by.dept if by else None,
        )
    )
    await session.flush()


async def versions(
    session: AsyncSession, code: str, *, below: int | None, limit: int
) -> list[ServiceItemVersion]:
    """Recorded versions, newest first, below version ``below`` when given."""
    query = select(ServiceItemVersion).where(ServiceItemVersion.code == code)
    if below is not None:
        query = query.where(ServiceItemVersion.version < below)
    query = query.order_by(ServiceItemVersion.version.desc()).limit(limit)
    return list(await session.scalars(query))


# --- the audit trail ---------------------------------------------------------------------------


async def add_audit_entry(
    session: AsyncSession,
    *,
    code: str,
    action: str,
    version: int,
    by: Administrator,
    at: dt.datetime,
    changes: dict[str, Any],
) -> None:
    session.add(
        ItemAuditEntry(
            id=new_id(),
            item_code=code,
            action=action,
            version=version,
            actor=by.sub,
            actor_dept=by.dept,
            at=at,
            changes=changes,
        )
    )
    await session.flush()


async def draft_changes(session: AsyncSession, code: str, *, version: int) -> list[ItemAuditEntry]:
    """The creation and the edits of the item's draft of this version (one draft per version:
    publishing it is what moves the next draft to the next version)."""
    query = select(ItemAuditEntry).where(
        ItemAuditEntry.item_code == code,
        ItemAuditEntry.version == version,
        ItemAuditEntry.action.in_(("created", "edited")),
    )
    return list(await session.scalars(query))


async def audit_entries(
    session: AsyncSession, code: str, *, before: uuid.UUID | None, limit: int
) -> list[ItemAuditEntry]:
    """The item's audit entries, newest first (UUIDv7 ids are time-ordered)."""
    query = select(ItemAuditEntry).where(ItemAuditEntry.item_code == code)
    if before is not None:
        query = query.where(ItemAuditEntry.id < before)
    query = query.order_by(ItemAuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(query))


# --- creation keys -----------------------------------------------------------------------------
