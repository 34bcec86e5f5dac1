"""The operator's commands on a service's outbox: list dead-lettered deliveries, redrive them.

python -m servicekit.events dead --database-url URL
python -m servicekit.events redrive --database-url URL --type case.completed
python -m servicekit.events redrive --database-url URL --event-id 0193...
python -m servicekit.events redrive --database-url URL --all
"""

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import Database, new_metadata
from servicekit.events._outbox import redrive
from servicekit.events._tables import DEAD, OutboxEventMixin


def outbox_model(table: str) -> type[OutboxEventMixin]:
    """The outbox table of a service this process does not import, mapped by its name."""

    class Base(DeclarativeBase):
        metadata = new_metadata()

    return cast(
        type[OutboxEventMixin],
        type("OutboxEvent", (OutboxEventMixin, Base), {"__tablename__": table}),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.events", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("dead", "list the dead-lettered deliveries, oldest first"),
        ("redrive", "put dead-lettered deliveries back to pending, with fresh attempts"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--database-url", required=True, help="the service's DATABASE_URL")
        command.add_argument("--table", default="outbox_event", help="the outbox table's name")
        command.add_argument("--type", dest="event_type", help="only events of this type")
        command.add_argument("--event-id", type=uuid.UUID, help="only this event")
        command.add_argument("--subscriber", help="only deliveries to this path")
        if name == "redrive":
            command.add_argument(
                "--all",
                action="store_true",
                help="every dead delivery (when nothing else is named)",
            )
        else:
            command.add_argument("--limit", type=int, default=100)
    return parser


async def _dead(arguments: argparse.Namespace) -> None:
    model = outbox_model(arguments.table)
    query = select(
        model.event_id,
        model.event_type,
        model.subject,
        model.subscriber,
        model.attempts,
        model.last_error,
        model.dead_at,
    ).where(model.status == DEAD)
    if arguments.event_type:
        query = query.where(model.event_type == arguments.event_type)
    if arguments.event_id:
        query = query.where(model.event_id == arguments.event_id)
    if arguments.subscriber:
        query = query.where(model.subscriber == arguments.subscriber)
    database = Database(arguments.database_url)
    try:
        async with database.sessionmaker() as session:
            rows = await session.execute(query.order_by(model.seq).limit(arguments.limit))
            for event_id, event_type, subject, subscriber, attempts, error, dead_at in rows:
                when = dead_at.isoformat() if dead_at else "-"
                print(
                    f"{event_id} {event_type} subject={subject} subscriber={subscriber} "
                    f"attempts={attempts} error={error} dead_at={when}"
                )
    finally:
        await database.dispose()


async def _redrive(arguments: argparse.Namespace) -> int:
    database = Database(arguments.database_url)
    try:
        async with database.sessionmaker.begin() as session:
            return await redrive(
                session,
                outbox_model(arguments.table),
                event_type=arguments.event_type,
                event_id=arguments.event_id,
                subscriber=arguments.subscriber,
            )
    finally:
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "dead":
        asyncio.run(_dead(arguments))
        return
    named = (arguments.event_type, arguments.event_id, arguments.subscriber)
    if not arguments.all and all(value is None for value in named):
        parser.error("redrive: name --type, --event-id or --subscriber, or say --all")
    count = asyncio.run(_redrive(arguments))
    print(f"{count} dead deliveries put back to pending")


if __name__ == "__main__":
    main()
