"""Record changes: a provider's batch that changes identity-critical fields of subjects the
exchange holds waits for a second person, a data steward (role ``data_steward``, granted by a
platform administrator only) of the provider's department type at the provider's region or
above. Approved, the batch is loaded as sent (checked again, against the records as they are
then) and its ledger entries name the steward as the actor; refused, it is dropped with the
reason.

Who sees a change: the requesting department (its systems and staff) and the stewards over it;
anyone else gets 404, as if there were none.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import repository
from data_exchange_svc.datasets.schemas import RecordLoad
from data_exchange_svc.datasets.service import Assessed, Loaded, assess, write
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.jurisdiction import Department, department_of, parse_department
from data_exchange_svc.ledger.appender import LedgerAppender
from data_exchange_svc.lifeevents.publishing import Publication
from data_exchange_svc.models import RecordChange
from data_exchange_svc.resources.spec import HOSTED
from servicekit.auth import Principal
from servicekit.ids import new_id
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, Forbidden, NotFound, extension_members
from servicekit.sealing import RowBinding

DATA_STEWARD = "data_steward"
#: The purpose an approved change's ledger entries give.
CHANGE_PURPOSE = "record_change_approved"

_RECORDS = TypeAdapter(list[RecordLoad])


class RecordChangeNotFound(NotFound):
    code = "record_change_not_found"
    title = "No such record change visible to the caller"


class DataStewardRequired(Forbidden):
    code = "data_steward_required"
    title = "Only a data steward over the requesting department decides a record change"


class RecordChangeNotPending(Conflict):
    code = "record_change_not_pending"
    title = "The record change has already been decided"
    members = extension_members(change_status={"type": "string", "examples": ["approved"]})


def batch_binding(change_id: uuid.UUID) -> RowBinding:
    """What a held batch is bound to (``RecordChange.records_sealed``): it opens for its change
    only."""
    return RowBinding("record_change", (str(change_id),))


async def hold(
    session: AsyncSession,
    principal: Principal,
    assessed: Assessed,
    records: Sequence[RecordLoad],
    *,
    protector: IdentifierProtector,
) -> RecordChange:
    """Keep the batch, sealed, for a steward to decide."""
    change_id = new_id()
    sealed = protector.seal_fields(
        {"records": [record.model_dump(mode="json") for record in records]},
        binding=batch_binding(change_id),
    )
    change = RecordChange(
        id=change_id,
        resource_code=assessed.spec.code,
        requested_by=principal.sub,
        department=assessed.provider.id,
        department_type=assessed.provider.type,
        department_region=assessed.provider.region.prefix,
        status="pending",
        records_sealed=sealed,
        record_count=len(records),
        changes=[{"row": change.row, "fields": list(change.fields)} for change in assessed.changes],
    )
    await repository.add_change(session, change)
    return change


def _is_steward_over(principal: Principal, change: RecordChange) -> bool:
    steward = department_of(principal)
    requester = parse_department(change.department)
    return (
        principal.typ == "staff"
        and DATA_STEWARD in (principal.roles or [])
        and steward is not None
        and requester is not None
        and steward.covers_department(requester)
    )


async def _visible(
    session: AsyncSession, principal: Principal, change_id: uuid.UUID, *, lock: bool = False
) -> tuple[RecordChange, bool]:
    """The change and whether the caller is a steward over it; 404 to anyone not party to it."""
    change = await repository.get_change(session, change_id, lock=lock)
    if change is None:
        raise RecordChangeNotFound()
    steward = _is_steward_over(principal, change)
    if not steward and principal.dept != change.department:
        raise RecordChangeNotFound()
    return change, steward


async def read(session: AsyncSession, principal: Principal, change_id: uuid.UUID) -> RecordChange:
    change, _ = await _visible(session, principal, change_id)
    return change


@dataclass(frozen=True, slots=True)
class ChangesPage:
    changes: list[RecordChange]
    next_cursor: str | None


async def page(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> ChangesPage:
    """A steward's: the changes of departments of their type at or below their region. Anyone
    else's: their own department's."""
    department: Department | None = department_of(principal)
    if department is None:
        return ChangesPage([], None)
    steward = principal.typ == "staff" and DATA_STEWARD in (principal.roles or [])
    context = f"record-changes:{principal.sub}:{status or ''}"
    position = cursors.decode_optional(context, cursor)
    found = await repository.changes_page(
        session,
        department_type=department.type,
        region_prefix=department.region.prefix,
        department=None if steward else department.id,
        status=status,
        before=uuid.UUID(position["before"]) if position is not None else None,
        limit=limit + 1,
    )
    more = len(found) > limit
    next_cursor = cursors.encode(context, {"before": str(found[limit - 1].id)}) if more else None
    return ChangesPage(found[:limit], next_cursor)


async def _decide(
    session: AsyncSession, principal: Principal, change_id: uuid.UUID
) -> RecordChange:
    change, steward = await _visible(session, principal, change_id, lock=True)
    if not steward or principal.sub == change.requested_by:
        raise DataStewardRequired()
    if change.status != "pending":
        raise RecordChangeNotPending(change_status=change.status)
    return change


async def approve(
    session: AsyncSession,
    principal: Principal,
    change_id: uuid.UUID,
    *,
    protector: IdentifierProtector,
    ledger: LedgerAppender,
    publication: Publication,
    now: dt.datetime,
    today: dt.date,
) -> tuple[RecordChange, Loaded]:
    """Load the held batch as sent, checked again against the records as they are now."""
    change = await _decide(session, principal, change_id)
    requester = parse_department(change.department)
    if requester is None:
        raise RecordChangeNotFound()
    opened = protector.open_fields(change.records_sealed, binding=batch_binding(change.id))
    records = _RECORDS.validate_python(opened["records"])
    spec = HOSTED[change.resource_code]
    assessed = await assess(session, spec, requester, records, protector=protector, today=today)
    loaded = await write(
        session,
        assessed,
        actor=principal.sub,
        purpose=CHANGE_PURPOSE,
        protector=protector,
        ledger=ledger,
        publication=publication,
    )
    change.status, change.decided_by, change.decided_at = "approved", principal.sub, now
    # Decided, the batch is kept no longer: loaded, the records hold it.
    change.records_sealed = b""
    await session.flush()
    return change, loaded


async def refuse(
    session: AsyncSession,
    principal: Principal,
    change_id: uuid.UUID,
    *,
    reason: str,
    now: dt.datetime,
) -> RecordChange:
    change = await _decide(session, principal, change_id)
    change.status, change.decision_note = "refused", reason
    change.decided_by, change.decided_at = principal.sub, now
    change.records_sealed = b""
    await session.flush()
    return change
