"""Dates coming due (rules with ``due``: an identity card about to expire) and ages reached
(``reaches_age``: the retirement age): a periodic sweep finds the rows whose date has come within
the rule's window and makes each one's life event once,
published as a load publishes its own (to the departments subscribed, each delivery a ledger
entry first; and to the platform, for an offer).

Once: each event carries its ``occurrence``, a keyed digest of its type, subject and key (a
renewed card has another key, and comes due again in its time), unique in ``life_event``. Two
sweeps at once (two replicas) cannot both write one: the second's transaction fails on it and
its events are made by the next sweep that finds them missing.

The subject is named by the population registry (its identity number, and the registered region
that places the event for a grant limited to a region); a row of someone it does not hold is
passed over.

It reads the resource's rows to find the due ones (and, for an age, opens each candidate's
identity number to read her birth date): a moment's work at this deployment's scale.
At a province's (28 million cards), the date a row comes due wants a plain, indexed column of its
own, written with the row, so that a sweep reads only what is due.
"""

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.datasets import repository
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger.appender import LedgerAppender
from data_exchange_svc.lifeevents.publishing import (
    Detected,
    Publication,
    offered_hash,
    plan,
    record,
    write,
)
from data_exchange_svc.lifeevents.rules import LifeEventRule, due_rules
from data_exchange_svc.models import LifeEvent
from data_exchange_svc.registry import repository as registry
from servicekit.ids import new_id
from servicekit.resident_id import parse_resident_id

log = structlog.get_logger("data_exchange_svc.lifeevents")

#: Who the sweep's events are recorded by, and its ledger entries' actor.
SWEEPER = "exchange"


def occurrence_of(
    rule: LifeEventRule, subject_hash: str, key: tuple[object, ...], *, digest_key: bytes
) -> str:
    message = json.dumps([rule.type, subject_hash, list(key)], separators=(",", ":"))
    return hmac.new(digest_key, message.encode(), hashlib.sha256).hexdigest()


def _reached_on(rule: LifeEventRule, values: Mapping[str, Any], identifier: str) -> dt.date | None:
    """The birthday on which the subject reaches the rule's age, read from her identity number."""
    assert rule.reaches_age is not None
    born = parse_resident_id(identifier, today=dt.date.max, region_known=lambda _: True)
    age = rule.reaches_age.age_for(values, born.sex)
    if age is None:
        return None
    try:
        return born.birth_date.replace(year=born.birth_date.year + age)
    except ValueError:  # born on 29 February
        return born.birth_date.replace(year=born.birth_date.year + age, day=28)


async def _due_events(
    session: AsyncSession,
    rule: LifeEventRule,
    *,
    protector: IdentifierProtector,
    digest_key: bytes,
    today: dt.date,
) -> list[Detected]:
    rows = [
        row
        for row in await repository.rows_of_resource(session, rule.resource)
        if rule.selects(row.field_values)
        and (rule.due is None or rule.due.holds(row.field_values, today=today))
    ]
    identities = await registry.identities_by_hash(session, {row.subject_hash for row in rows})
    due: dict[str, Detected] = {}
    for row in rows:
        if row.subject_hash not in identities:
            continue  # someone the registry does not hold: whom would it name?
        sealed, region = identities[row.subject_hash]
        identifier = protector.decrypt(sealed, lookup_hash=row.subject_hash)
        values = row.field_values
        if rule.reaches_age is not None:
            reached_on = _reached_on(rule, values, identifier)
            if reached_on is None or not rule.reaches_age.holds(reached_on, today=today):
                continue
        occurrence = occurrence_of(
            rule, row.subject_hash, rule.key_of(values), digest_key=digest_key
        )
        due[occurrence] = Detected(
            id=new_id(),
            rule=rule,
            subject_hash=row.subject_hash,
            subject=identifier,
            region=region,
            fields={name: values.get(name) for name in rule.fields},
            offered_hash=offered_hash(rule, row.subject_hash, values, protector),
            occurrence=occurrence,
        )
    if not due:
        return []
    told = set(
        await session.scalars(
            select(LifeEvent.occurrence).where(LifeEvent.occurrence.in_(list(due)))
        )
    )
    return [event for occurrence, event in due.items() if occurrence not in told]


async def sweep_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    publication: Publication,
    *,
    ledger: LedgerAppender,
    protector: IdentifierProtector,
    digest_key: bytes,
    now: dt.datetime,
) -> int:
    """Make the life events of the dates that came due: how many."""
    made = 0
    for rule in due_rules():
        async with sessionmaker() as session:
            events = await _due_events(
                session, rule, protector=protector, digest_key=digest_key, today=publication.today
            )
            if not events:
                continue
            planned = await plan(
                session,
                events,
                active_grants=publication.active_grants,
                identity_service=publication.identity_service,
                now=now,
            )
        # The ledger's entries first, as for a load (on SQLite a write would hold its lock).
        planned = await record(ledger, planned, actor=SWEEPER) if planned.deliveries else planned
        try:
            async with sessionmaker.begin() as session:
                await write(
                    session,
                    planned,
                    recorded_by=SWEEPER,
                    deliveries=publication.deliveries,
                    platform=publication.platform,
                    now=now,
                )
        except IntegrityError:
            # Another sweep wrote one of them first: the next sweep makes what is missing.
            log.warning("life_event_sweep_overlapped", event_type=rule.type)
            continue
        made += len(events)
    return made


async def sweeping(every_seconds: float, sweep: Callable[[], Awaitable[int]]) -> None:
    """Run ``sweep`` now and every ``every_seconds``, until cancelled; a failed sweep is logged
    and tried again at the next."""
    while True:
        try:
            await sweep()
        except Exception as exc:
            log.warning("life_event_sweep_failed", error_type=type(exc).__name__)
        await asyncio.sleep(every_seconds)
