"""The rules of item administration: creating an item (a draft of version 1), opening a draft
of a published item, editing it, approving it, publishing it as the item's next version,
withdrawing an item; each within the administrator's jurisdiction (``auth``), each recorded in
the audit trail.

Four eyes: a draft that changes a field of ``SECOND_PERSON_FIELDS`` from the published version
(a new item sets them all) is published only once approved, at the revision its approver read,
by an administrator of the item who changed none of those fields in this draft (the audit
trail's creations and edits say who did). Anyone of the item's administrators then publishes it,
its author too; an edit withdraws the approval. Every other change publishes at once.

The public reads serve ``service_item``, the published version, until a publication replaces it;
drafts live in ``service_item_draft`` and no public read sees them. A publication or withdrawal
replaces the published-items token, after which every process's snapshot reads the items again
(the publishing process at once, see ``snapshot.SnapshotRefresh``).
"""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.admin import repository, validation
from catalog_svc.admin.auth import Administrator, Jurisdiction, jurisdiction_of
from catalog_svc.admin.schemas import (
    SECOND_PERSON_FIELDS,
    Approval,
    AuditEntryRead,
    DraftRead,
    Editor,
    ItemContent,
    ItemCreate,
    SecondPersonField,
    VersionRead,
)
from catalog_svc.items import repository as items_repository
from catalog_svc.items.service import ItemNotFound
from catalog_svc.models import ServiceItem, ServiceItemDraft
from catalog_svc.reference.items import visits_value
from catalog_svc.seed import ADMINISTERED
from catalog_svc.snapshot import CatalogSnapshot
from servicekit.pagination import Cursors
from servicekit.preconditions import PreconditionFailed, entity_tag, require_match
from servicekit.problems import Conflict, Forbidden, NotFound, extension_members


class DraftNotFound(NotFound):
    code = "draft_not_found"
    title = "The item has no open draft"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


class ItemCodeTaken(Conflict):
    code = "item_code_taken"
    title = "An item with this code exists (codes are never reused)"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


class ItemAlreadyWithdrawn(Conflict):
    code = "item_already_withdrawn"
    title = "The item is withdrawn already"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


_FIELDS_NEEDING_APPROVAL = {
    "type": "array",
    "items": {"type": "string", "enum": list(SECOND_PERSON_FIELDS)},
    "description": "The fields the draft changes from the published version that need a "
    "second administrator's approval",
    "examples": [["min_loa"]],
}


class ApprovalRequired(Conflict):
    code = "approval_required"
    title = "A second administrator approves this change before it is published"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        fields=_FIELDS_NEEDING_APPROVAL,
    )


class SecondPersonRequired(Forbidden):
    code = "second_person_required"
    title = "You changed what needs approval: another administrator of the item approves it"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        fields=_FIELDS_NEEDING_APPROVAL,
    )


class ApprovalNotNeeded(Conflict):
    code = "approval_not_needed"
    title = "The draft changes nothing that needs approval: publish it"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]}
    )


# --- documents ---------------------------------------------------------------------------------


def published_content(item: ServiceItem) -> dict[str, Any]:
    """The published item as administrators write it (the JSON a draft and a version hold),
    with every member written out (a fee's absent amount as null), so that comparing it with
    a draft shows only real changes."""
    return _content(_published_document(item)).model_dump(mode="json")


def _published_document(item: ServiceItem) -> dict[str, Any]:
    return {
        "name": item.name,
        "aliases": list(item.aliases),
        "keywords": list(item.keywords),
        "department_type": item.department_type,
        "handling_tier": item.handling_tier,
        "subject": item.subject,
        "topics": list(item.topics),
        "visits": visits_value(item.visits),
        "processing_mode": item.processing_mode,
        "decision_approval": item.decision_approval,
        "issues_certificate": item.issues_certificate,
        "min_loa": item.min_loa,
        "legal_working_days": item.legal_working_days,
        "promised_working_days": item.promised_working_days,
        "fee": dict(item.fee),
        "materials": [dict(material) for material in item.materials],
        "form_schema": item.form_schema,
        "offered_in": list(item.offered_in),
        "illustrative": list(item.illustrative),
        "notes": item.notes,
    }


def _published_columns(content: ItemContent) -> dict[str, Any]:
    """The ``service_item`` columns of an item's content."""
    document = content.model_dump(mode="json")
    document["visits"] = str(document["visits"])
    return document


def _content(document: Mapping[str, Any]) -> ItemContent:
    """A stored document read back. Documents were checked when written; one that no longer
    passes (written before a rule tightened) is refused as the item's problem, not a crash. A
    member one lacks (written before the field existed) reads as its default, which is what
    the item was then: compare documents read back, never the stored JSON."""
    try:
        return ItemContent.model_validate(document)
    except ValidationError as exc:
        raise validation.invalid_item(
            [
                validation.FieldProblem(
                    "body." + ".".join(str(part) for part in error["loc"]),
                    error["msg"],
                    error["type"],
                )
                for error in exc.errors()
            ]
        ) from exc


def _jurisdiction(document: Mapping[str, Any]) -> Jurisdiction:
    """Whose an item is, from its document (a draft's, a version's or a creation's)."""
    return jurisdiction_of(
        department_type=document["department_type"],
        handling_tier=document["handling_tier"],
        offered_in=document["offered_in"],
    )


def _item_jurisdiction(item: ServiceItem) -> Jurisdiction:
    return jurisdiction_of(
        department_type=item.department_type,
        handling_tier=item.handling_tier,
        offered_in=item.offered_in,
    )


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Field → {"from", "to"}, for the fields whose values differ."""
    return {
        field: {"from": before.get(field), "to": after.get(field)}
        for field in sorted(before.keys() | after.keys())
        if before.get(field) != after.get(field)
    }


def draft_version(draft: ServiceItemDraft) -> int:
    return (draft.based_on_version or 0) + 1


def draft_etag(based_on_version: int | None, revision: int) -> str:
    """A strong entity tag: one draft at a time per item, opened from one published version
    (0: none), counting its edits."""
    return entity_tag(f"{based_on_version or 0}.{revision}")


def changes_needing_approval(
    published: Mapping[str, Any] | None, draft: Mapping[str, Any]
) -> list[SecondPersonField]:
    """The fields of ``SECOND_PERSON_FIELDS`` the draft changes from the published version;
    every one of them for an item never published (None, or nothing), whose first publication
    sets them."""
    before = published or {}
    return [field for field in SECOND_PERSON_FIELDS if before.get(field) != draft.get(field)]


def _approval(draft: ServiceItemDraft) -> Approval | None:
    if draft.approved_by is None or draft.approved_at is None:
        return None
    return Approval(
        by=Editor(sub=draft.approved_by, dept=draft.approved_by_dept), at=draft.approved_at
    )


def draft_view(draft: ServiceItemDraft, published: ServiceItem | None) -> DraftRead:
    """The draft as administrators read it; ``published``: the version it will replace."""
    content = _content(draft.content)
    return DraftRead(
        code=draft.code,
        version=draft_version(draft),
        based_on_version=draft.based_on_version,
        revision=draft.revision,
        created_at=draft.created_at,
        updated_at=draft.updated_at,
        updated_by=Editor(sub=draft.updated_by, dept=draft.updated_by_dept),
        item=content,
        changes_needing_approval=changes_needing_approval(
            published_content(published) if published is not None else None,
            content.model_dump(mode="json"),
        ),
        approval=_approval(draft),
    )


async def _audit(
    session: AsyncSession,
    by: Administrator,
    *,
    code: str,
    action: str,
    version: int,
    changes: dict[str, Any],
    now: dt.datetime,
) -> None:
    await repository.add_audit_entry(
        session, code=code, action=action, version=version, by=by, at=now, changes=changes
    )


async def _check(
    session: AsyncSession,
    snapshot: CatalogSnapshot,
    *,
    code: str,
    content: ItemContent,
    problems: list[validation.FieldProblem] | None = None,
) -> None:
    """Refuse the item, listing every rule it breaks (``problems``: those found already)."""
    problems = [*(problems or []), *validation.item_problems(content, snapshot)]
    if await repository.name_in_use(session, content.name, other_than=code):
        problems.append(
            validation.FieldProblem(
                "body.name", f"another item is named {content.name!r}", "name_taken"
            )
        )
    if problems:
        raise validation.invalid_item(problems)


# --- creation ----------------------------------------------------------------------------------


async def create_item(
    session: AsyncSession,
    *,
    snapshot: CatalogSnapshot,
    by: Administrator,
    payload: ItemCreate,
    now: dt.datetime,
) -> DraftRead:
    """A new item, as a draft of its version 1: nothing public until it is published."""
    content = ItemContent.model_validate(payload.model_dump(exclude={"code"}))
    document = content.model_dump(mode="json")
    by.scope.require(item_code=payload.code, item=_jurisdiction(document))
    await _check(
        session,
        snapshot,
        code=payload.code,
        content=content,
        problems=validation.code_problems(payload.code, content.department_type),
    )
    if (
        await items_repository.get(session, payload.code) is not None
        or await repository.draft(session, payload.code) is not None
    ):
        raise ItemCodeTaken(f"{payload.code} exists; choose another code", item_code=payload.code)

    draft = await repository.insert_draft(
        session, code=payload.code, based_on_version=None, content=document, by=by, now=now
    )
    if draft is None:
        raise ItemCodeTaken(f"{payload.code} exists; choose another code", item_code=payload.code)
    await _audit(
        session,
        by,
        code=payload.code,
        action="created",
        version=1,
        changes=changes_between({}, document),
        now=now,
    )
    return draft_view(draft, None)


# --- drafts ------------------------------------------------------------------------------------


async def _draft_in_scope(
    session: AsyncSession, by: Administrator, code: str
) -> tuple[ServiceItemDraft, ServiceItem | None]:
    """The item's open draft and its published version (None: a new item), once the
    administrator is found to have jurisdiction over both (a draft listed in Lucheng alone that
    would replace a province-wide item is still the province's)."""
    draft = await repository.draft(session, code)
    item = await repository.item(session, code)
    if draft is None:
        if item is None:
            raise ItemNotFound(f"no service item has code {code!r}", item_code=code)
        raise DraftNotFound(f"{code} has no open draft: open one (POST …/draft)", item_code=code)
    if item is not None:
        by.scope.require(item_code=code, item=_item_jurisdiction(item))
    by.scope.require(item_code=code, item=_jurisdiction(draft.content))
    return draft, item


async def draft_of(session: AsyncSession, *, by: Administrator, code: str) -> DraftRead:
    return draft_view(*await _draft_in_scope(session, by, code))


async def open_draft(
    session: AsyncSession, *, by: Administrator, code: str, now: dt.datetime
) -> tuple[DraftRead, bool]:
    """The item's draft, opened now as a copy of the published version unless one is open;
    whether it was opened now."""
    if await repository.draft(session, code) is not None:
        return draft_view(*await _draft_in_scope(session, by, code)), False
    item = await repository.item(session, code)
    if item is None:
        raise ItemNotFound(f"no service item has code {code!r}", item_code=code)
    by.scope.require(item_code=code, item=_item_jurisdiction(item))
    opened = await repository.insert_draft(
        session,
        code=code,
        based_on_version=item.version,
        content=published_content(item),
        by=by,
        now=now,
    )
    if opened is None:  # another request opened one meanwhile
        return draft_view(*await _draft_in_scope(session, by, code)), False
    await _audit(
        session,
        by,
        code=code,
        action="draft_opened",
        version=draft_version(opened),
        changes={},
        now=now,
    )
    return draft_view(opened, item), True


async def edit_draft(
    session: AsyncSession,
    *,
    snapshot: CatalogSnapshot,
    by: Administrator,
    code: str,
    changes: dict[str, Any],
    if_match: str | None,
    now: dt.datetime,
) -> DraftRead:
    """Apply the changes to the draft the client read (``If-Match``): each member given replaces
    the draft's; the result must still be of the administrator's jurisdiction, and valid. A
    change withdraws the draft's approval, if it had one."""
    draft, item = await _draft_in_scope(session, by, code)
    require_match(if_match, draft_etag(draft.based_on_version, draft.revision))
    before = _content(draft.content).model_dump(mode="json")
    content = _content({**before, **changes})
    after = content.model_dump(mode="json")
    by.scope.require(item_code=code, item=_jurisdiction(after))
    await _check(session, snapshot, code=code, content=content)
    changed = changes_between(before, after)
    if not changed:
        return draft_view(draft, item)
    edited = await repository.update_draft(
        session, code=code, read_revision=draft.revision, content=after, by=by, now=now
    )
    if edited is None:
        raise PreconditionFailed("the draft changed while this edit was made")
    await _audit(
        session,
        by,
        code=code,
        action="edited",
        version=draft_version(draft),
        changes=changed,
        now=now,
    )
    return draft_view(edited, item)


async def approve_draft(
    session: AsyncSession,
    *,
    by: Administrator,
    code: str,
    if_match: str | None,
    now: dt.datetime,
) -> DraftRead:
    """Approve the draft the client read (``If-Match``): its changes to the fields that need a
    second person, by an administrator of the item who made none of them. Approved already (a
    retry, or another approver first): the draft as it is."""
    draft, item = await _draft_in_scope(session, by, code)
    require_match(if_match, draft_etag(draft.based_on_version, draft.revision))
    published = published_content(item) if item is not None else None
    after = _content(draft.content).model_dump(mode="json")
    fields = changes_needing_approval(published, after)
    if not fields:
        raise ApprovalNotNeeded(
            f"{code}'s draft changes none of {', '.join(SECOND_PERSON_FIELDS)}: publish it",
            item_code=code,
        )
    if by.sub in await _authors_of_changes_needing_approval(session, draft):
        raise SecondPersonRequired(
            f"you changed {', '.join(fields)} in this draft: another administrator of {code} "
            f"approves it",
            item_code=code,
            fields=fields,
        )
    if draft.approved_by is not None:
        return draft_view(draft, item)
    approved = await repository.approve_draft(
        session, code=code, read_revision=draft.revision, by=by, now=now
    )
    if approved is None:
        raise PreconditionFailed("the draft changed while it was being approved")
    before = published or {}
    await _audit(
        session,
        by,
        code=code,
        action="approved",
        version=draft_version(draft),
        changes={field: {"from": before.get(field), "to": after[field]} for field in fields},
        now=now,
    )
    return draft_view(approved, item)


async def _authors_of_changes_needing_approval(
    session: AsyncSession, draft: ServiceItemDraft
) -> set[str]:
    """Who created the draft (a new item) or edited one of ``SECOND_PERSON_FIELDS`` in it."""
    return {
        entry.actor
        for entry in await repository.draft_changes(
            session, draft.code, version=draft_version(draft)
        )
        if not entry.changes.keys().isdisjoint(SECOND_PERSON_FIELDS)
    }


# --- publication and withdrawal ------------------------------------------------------------------


async def publish_draft(
    session: AsyncSession,
    *,
    snapshot: CatalogSnapshot,
    by: Administrator,
    code: str,
    if_match: str | None,
    now: dt.datetime,
) -> ServiceItem:
    """Publish the draft the client read (``If-Match``) as the item's next version: the public
    reads, search and the change feed show it from the commit on. A change that needs a second
    person is published only once approved."""
    draft, current = await _draft_in_scope(session, by, code)
    require_match(if_match, draft_etag(draft.based_on_version, draft.revision))
    content = _content(draft.content)
    # Checked again: the catalogue (departments, regions) may have changed since the edit.
    await _check(session, snapshot, code=code, content=content)
    after = content.model_dump(mode="json")
    before = published_content(current) if current is not None else {}
    fields = changes_needing_approval(before, after)
    if fields and draft.approved_by is None:
        raise ApprovalRequired(
            f"{code}'s draft changes {', '.join(fields)}: another administrator of the item "
            f"approves it first (POST …/draft/approval)",
            item_code=code,
            fields=fields,
        )
    # The revision read is the one approved: an edit since withdrew the approval and moved it on.
    if not await repository.delete_draft(session, code=code, read_revision=draft.revision):
        raise PreconditionFailed("the draft changed while it was being published")

    previous_status = current.status if current is not None else None
    if current is not None and not await repository.version_recorded(
        session, code, current.version
    ):
        # The version the seed loaded, kept before it is replaced.
        await repository.record_version(
            session,
            code=code,
            version=current.version,
            content=before,
            published_at=current.changed_at or now,
            by=None,
        )
    version = current.version + 1 if current is not None else 1
    await repository.record_version(
        session, code=code, version=version, content=after, published_at=now, by=by
    )
    columns = {
        **_published_columns(content),
        "version": version,
        "status": "published",
        "changed_at": now,
        "maintained_by": ADMINISTERED,
    }
    if current is None:
        current = ServiceItem(code=code, **columns)
        session.add(current)
    else:
        for name, value in columns.items():
            setattr(current, name, value)
    await session.flush()
    await items_repository.replace_published_items_token(session)
    changed = changes_between(before, after)
    if previous_status != "published":
        changed["status"] = {"from": previous_status, "to": "published"}
    await _audit(
        session, by, code=code, action="published", version=version, changes=changed, now=now
    )
    return current


async def withdraw_item(
    session: AsyncSession, *, by: Administrator, code: str, now: dt.datetime
) -> ServiceItem:
    """Withdraw a published item: search and handler resolution stop offering it, the change
    feed lists it; its code stays (cases and ratings keep it)."""
    item = await repository.item(session, code)
    if item is None:
        raise ItemNotFound(f"no service item has code {code!r}", item_code=code)
    by.scope.require(item_code=code, item=_item_jurisdiction(item))
    withdrawn = await repository.withdraw(session, code=code, now=now)
    if withdrawn is None:
        raise ItemAlreadyWithdrawn(f"{code} is withdrawn already", item_code=code)
    await items_repository.replace_published_items_token(session)
    await _audit(
        session,
        by,
        code=code,
        action="withdrawn",
        version=item.version,
        changes={"status": {"from": "published", "to": "withdrawn"}},
        now=now,
    )
    return withdrawn


# --- history -----------------------------------------------------------------------------------


async def _history_in_scope(
    session: AsyncSession, by: Administrator, code: str
) -> ServiceItem | None:
    """The published item (None: only a draft so far), once the administrator is found to keep
    the item or its draft."""
    item = await repository.item(session, code)
    draft = await repository.draft(session, code)
    owners = []
    if item is not None:
        owners.append(_item_jurisdiction(item))
    if draft is not None:
        owners.append(_jurisdiction(draft.content))
    if not owners:
        raise ItemNotFound(f"no service item has code {code!r}", item_code=code)
    if not any(by.scope.covers(owner) for owner in owners):
        by.scope.require(item_code=code, item=owners[0])
    return item


async def versions(
    session: AsyncSession,
    *,
    by: Administrator,
    code: str,
    limit: int,
    cursors: Cursors,
    cursor: str | None,
) -> tuple[list[VersionRead], str | None]:
    """The item's published versions, newest first: those published through this API and the
    seed's version each first publication replaced (or, for an item never administered, its
    one version the seed loaded)."""
    item = await _history_in_scope(session, by, code)
    context = f"admin:{code}:versions"
    position = cursors.decode_optional(context, cursor)
    below: int | None = position["before"] if position is not None else None
    recorded = await repository.versions(session, code, below=below, limit=limit + 1)
    entries = [
        VersionRead(
            version=row.version,
            published_at=row.published_at,
            published_by=Editor(sub=row.published_by, dept=row.published_by_dept)
            if row.published_by is not None
            else None,
            item=_content(row.content),
        )
        for row in recorded
    ]
    if cursor is None and item is not None and (not recorded or recorded[0].version < item.version):
        entries.insert(
            0,
            VersionRead(
                version=item.version,
                published_at=item.changed_at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                published_by=None,
                item=_content(_published_document(item)),
            ),
        )
    page = entries[:limit]
    more = len(entries) > limit
    next_cursor = cursors.encode(context, {"before": page[-1].version}) if more else None
    return page, next_cursor


async def audit_trail(
    session: AsyncSession,
    *,
    by: Administrator,
    code: str,
    limit: int,
    cursors: Cursors,
    cursor: str | None,
) -> tuple[list[AuditEntryRead], str | None]:
    """Who did what to the item and when, newest first."""
    await _history_in_scope(session, by, code)
    context = f"admin:{code}:audit"
    position = cursors.decode_optional(context, cursor)
    before = uuid.UUID(hex=position["before"]) if position is not None else None
    rows = await repository.audit_entries(session, code, before=before, limit=limit + 1)
    page = [
        AuditEntryRead.model_validate(
            {
                "id": row.id,
                "item_code": row.item_code,
                "action": row.action,
                "version": row.version,
                "at": row.at,
                "actor": {"sub": row.actor, "dept": row.actor_dept},
                "changed_fields": sorted(row.changes),
                "changes": row.changes,
            }
        )
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    next_cursor = cursors.encode(context, {"before": page[-1].id.hex}) if more else None
    return page, next_cursor
