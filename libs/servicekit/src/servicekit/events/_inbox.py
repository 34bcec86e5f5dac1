"""The consumer's side: the inbox turns at-least-once delivery into exactly-once processing."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import insert_for, utcnow
from servicekit.events._envelope import CloudEvent
from servicekit.events._tables import InboxEventMixin


async def record_in_inbox(
    session: AsyncSession, model: type[InboxEventMixin], event: CloudEvent[Any]
) -> bool:
    """Record the event's id in the consumer's inbox, in the caller's transaction; ``True``
    the first time (process it, in this same transaction), ``False`` for a duplicate (answer
    2xx again and do nothing).

    The id is inserted with "on conflict do nothing", so the inbox row commits or rolls back
    with the processing: an event whose processing failed is new again at its redelivery. On
    PostgreSQL a concurrent delivery of the same event waits for the first one's transaction
    and then finds the id taken.
    """
    values = {
        "event_id": event.id,
        "event_type": event.type,
        "source": event.source,
        "received_at": utcnow(),
    }
    statement = (
        insert_for(session, model)
        .values(values)
        .on_conflict_do_nothing(index_elements=[model.event_id])
        .returning(model.event_id)
    )
    inserted = (await session.execute(statement)).first()
    return inserted is not None
