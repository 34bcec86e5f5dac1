"""The rules of the revocation list: which access tokens an ended session or client leaves
alive, so that the gateway (and identity-svc's own verifier) refuse them at once.

A session's access tokens are covered when it is ended (logout, RFC 7009 revocation, its
holder ending it, a refresh token presented twice, a password change, a staff account
disabled) or when its account's roles change (the session lives on: its next refresh brings a
token with the new roles). A client's, when it is disabled or the overlap of its previous
secret is ended. An entry lives as long as the last token it covers; a session idle for longer
than its tokens (and those exchanged for them) live needs none.

Polls read by time with a margin (``REREAD``): an entry is written in its request's
transaction, which may commit after a poll has read past the time it was recorded at.
"""

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity_svc.models import Revocation
from identity_svc.revocations import repository
from identity_svc.runtime import Runtime
from servicekit.pagination import Cursors
from servicekit.revocations import Revocation as PublishedRevocation
from servicekit.revocations import RevocationPage, RevocationSource

#: How far before its cursor's time a poll reads again: longer than a request that records an
#: entry takes to commit (the gateway gives identity-svc 10 s), so none committed late is missed.
REREAD = dt.timedelta(seconds=30)
_CURSOR_CONTEXT = "revocations"


async def end_session_tokens(
    session: AsyncSession,
    runtime: Runtime,
    sessions: Iterable[tuple[uuid.UUID, dt.datetime]],
    *,
    now: dt.datetime,
) -> None:
    """Cover the access tokens the sessions issued up to now: ``sessions`` as the tokens
    repository ends them, (id, when it last issued tokens)."""
    settings = runtime.settings
    entries = [
        Revocation(
            kind="session",
            subject=str(session_id),
            issued_up_to=now,
            recorded_at=now,
            expires_at=now + settings.revocation_lifetime,
        )
        for session_id, last_used_at in sessions
        # A session idle for longer has no token left that is still valid.
        if last_used_at + settings.session_token_horizon > now
    ]
    await _record(session, entries, now=now)


async def end_client_tokens(
    session: AsyncSession,
    runtime: Runtime,
    client_id: str,
    *,
    generations_below: int | None,
    now: dt.datetime,
) -> None:
    """Cover the client's access tokens issued up to now: every one, or (``generations_below``)
    those granted with an older secret."""
    entry = Revocation(
        kind="client",
        subject=client_id,
        issued_up_to=now,
        generations_below=generations_below,
        recorded_at=now,
        expires_at=now + runtime.settings.revocation_lifetime,
    )
    await _record(session, [entry], now=now)


async def _record(
    session: AsyncSession, entries: Sequence[Revocation], *, now: dt.datetime
) -> None:
    if entries:
        await repository.forget_expired(session, now=now)
        await repository.add(session, entries)


async def published(
    session: AsyncSession, cursors: Cursors, cursor: str | None, *, now: dt.datetime
) -> tuple[list[PublishedRevocation], str]:
    """The entries in force recorded since the cursor's time (less ``REREAD``), every one
    without a cursor, and the cursor to poll with next."""
    position = cursors.decode_optional(_CURSOR_CONTEXT, cursor)
    since = dt.datetime.fromisoformat(position["since"]) if position is not None else None
    found = await repository.in_force(session, recorded_since=since, now=now)
    next_cursor = cursors.encode(_CURSOR_CONTEXT, {"since": (now - REREAD).isoformat()})
    return [_published(entry) for entry in found], next_cursor


def local_source(
    sessions: async_sessionmaker[AsyncSession], cursors: Cursors, clock: Callable[[], dt.datetime]
) -> RevocationSource:
    """The list read straight from identity-svc's database, as its own verifier follows it."""

    async def poll(cursor: str | None) -> RevocationPage:
        async with sessions() as session:
            entries, next_cursor = await published(session, cursors, cursor, now=clock())
        return RevocationPage(entries, next_cursor)

    return poll


def _published(entry: Revocation) -> PublishedRevocation:
    return PublishedRevocation(
        kind="client" if entry.kind == "client" else "session",
        id=entry.subject,
        issued_up_to=int(entry.issued_up_to.timestamp()),
        expires_at=entry.expires_at.timestamp(),
        generations_below=entry.generations_below,
    )
