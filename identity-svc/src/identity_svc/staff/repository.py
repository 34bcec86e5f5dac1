"""Every query identity-svc makes about staff accounts as administrators manage them (one by id
comes from ``accounts.repository``)."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from identity_svc.models import Account, StaffNumberCounter
from servicekit.db import insert_for


async def next_staff_sequence(session: AsyncSession, *, region_code: str) -> int:
    """The next number of the region's staff counter: one statement, atomic on both backends."""
    table = StaffNumberCounter.__table__
    statement = (
        insert_for(session, table)
        .values(region_code=region_code, last_value=1)
        .on_conflict_do_update(
            index_elements=["region_code"], set_={"last_value": table.c.last_value + 1}
        )
        .returning(table.c.last_value)
    )
    value: int = (await session.execute(statement)).scalar_one()
    return value


async def page(
    session: AsyncSession, *, dept: str | None, after: uuid.UUID | None, limit: int
) -> Sequence[Account]:
    """Staff accounts by id (creation order: UUIDv7) after ``after``, at most ``limit``: every
    one, or (``dept``) one department's."""
    statement = select(Account).where(Account.typ == "staff")
    if dept is not None:
        statement = statement.where(Account.dept == dept)
    if after is not None:
        statement = statement.where(Account.id > after)
    rows = await session.scalars(statement.order_by(Account.id).limit(limit))
    return rows.all()


async def change(
    session: AsyncSession,
    account: Account,
    *,
    expected_version: int,
    roles: list[str],
    disabled_at: dt.datetime | None,
) -> bool:
    """Write the account's roles and disabled time as its next version, unless another request
    changed it since version ``expected_version`` (then nothing is written: False)."""
    result = await session.execute(
        update(Account)
        .where(Account.id == account.id, Account.version == expected_version)
        .values(version=expected_version + 1, roles=roles, disabled_at=disabled_at)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return False
    # What the row now holds, without marking the object changed (no second UPDATE).
    for name, value in (
        ("version", expected_version + 1),
        ("roles", roles),
        ("disabled_at", disabled_at),
    ):
        set_committed_value(account, name, value)
    return True
