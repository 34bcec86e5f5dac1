"""The rules of the audit trail: every administrator's change to a staff account or a client
is written in the transaction of the change, naming who made it; ids, roles and departments
only, never a phone number or a name."""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.audit import repository
from identity_svc.models import AuditEvent

Action = Literal[
    "staff.created",
    "staff.roles_changed",
    "staff.disabled",
    "client.disabled",
    "client.previous_secret_ended",
    "client.sign_in_replaced",
]


async def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: Action,
    subject: str,
    details: Mapping[str, Any] | None = None,
    now: dt.datetime,
) -> None:
    await repository.add(
        session,
        AuditEvent(
            occurred_at=now,
            actor_id=actor_id,
            action=action,
            subject=subject,
            details=dict(details or {}),
        ),
    )
