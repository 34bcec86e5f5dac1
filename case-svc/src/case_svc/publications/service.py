"""case-svc's publisher: the certificates completed cases issued, sent to the exchange's
certificate library with case-svc's own service token, on behalf of the department that decided
each case (the exchange lets case-svc publish for an issuing department).

The deliver step writes each certificate pending, in its own transaction; the publisher finds
those due, takes each at its version (moving ``attempt_at`` on by a lease, so that a publisher
that dies lets go), calls the exchange outside any transaction, then records the answer at the
version it took. Replicas running this at once publish each certificate once in the usual case;
should a lease lapse mid-call and two publishers send it, the exchange answers a repeat as it
answered the first (same number, same holder: nothing changes). A failure is tried again with a
backoff doubling up to a limit; a refusal for good (not an issuer, the number another holder's)
is kept as refused, for the department to take up.
"""

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_svc.clients import exchange
from case_svc.clients.exchange import Publication, PublicationRefused, ServiceToken
from case_svc.models import CertificatePublication
from case_svc.publications import repository
from servicekit.problems import UpstreamUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PublishPolicy:
    """How the publisher works through what is due."""

    #: How long a publisher holds what it took before another may take it.
    lease: dt.timedelta = dt.timedelta(seconds=60)
    #: The wait after the first failed attempt, doubling after each one, up to ``max_backoff``.
    first_backoff: dt.timedelta = dt.timedelta(seconds=10)
    max_backoff: dt.timedelta = dt.timedelta(hours=1)
    #: Publications taken per round.
    batch: int = 20

    def backoff(self, attempts: int) -> dt.timedelta:
        doublings = min(max(attempts - 1, 0), 30)  # beyond the limit long before: no overflow
        return min(self.first_backoff * (1 << doublings), self.max_backoff)


@dataclass(frozen=True)
class _Taken:
    """A publication a publisher holds: the version it took it at and what to send."""

    id: uuid.UUID
    version: int
    attempts: int
    certificate: dict[str, Any]


def _request_body(publication: CertificatePublication, case_no: str) -> dict[str, Any]:
    return {
        "subject": dict(publication.holder),
        "certificate_type": publication.certificate_type,
        "certificate_number": publication.certificate_number,
        "valid_from": publication.valid_from.isoformat(),
        "valid_until": publication.valid_until.isoformat() if publication.valid_until else None,
        "issuing_department": publication.issuing_department,
        "case_id": case_no,
    }


async def _take(
    session: AsyncSession, publication_id: uuid.UUID, *, now: dt.datetime, lease: dt.timedelta
) -> _Taken | None:
    found = await repository.with_case_number(session, publication_id)
    if found is None:
        return None
    publication, case_no = found
    if publication.status != repository.PENDING or publication.attempt_at > now:
        return None  # another publisher took or answered it since it was found due
    attempts = publication.attempts + 1
    taken = await repository.update_at_version(
        session,
        publication_id,
        expected_version=publication.version,
        values={"attempt_at": now + lease, "attempts": attempts},
    )
    if not taken:
        return None
    return _Taken(
        publication_id, publication.version + 1, attempts, _request_body(publication, case_no)
    )


def _answered(
    outcome: Publication | PublicationRefused | UpstreamUnavailable,
    taken: _Taken,
    *,
    now: dt.datetime,
    policy: PublishPolicy,
) -> dict[str, Any]:
    if isinstance(outcome, Publication):
        return {
            "status": repository.PUBLISHED,
            "call_id": outcome.call_id,
            "receipt": outcome.receipt,
            "published_at": now,
            "last_error": None,
        }
    if isinstance(outcome, PublicationRefused):
        return {
            "status": repository.REFUSED,
            "refusal_code": outcome.code[:64],
            "last_error": outcome.code[:64],
        }
    upstream = outcome.extensions.get("upstream_code") or outcome.extensions.get(
        "upstream_status", "unreachable"
    )
    return {
        "attempt_at": now + policy.backoff(taken.attempts),
        "last_error": str(upstream)[:64],
    }


async def _send(
    http: httpx.AsyncClient, token: ServiceToken, taken: _Taken
) -> Publication | PublicationRefused | UpstreamUnavailable:
    try:
        return await exchange.publish_certificate(http, token=token, certificate=taken.certificate)
    except (PublicationRefused, UpstreamUnavailable) as failure:
        return failure


async def publish_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    token: ServiceToken,
    clock: Callable[[], dt.datetime],
    *,
    policy: PublishPolicy = PublishPolicy(),
) -> int:
    """Publish what is due now, one at a time: how many the exchange now holds."""
    async with sessionmaker() as session:
        due = await repository.due(session, now=clock(), limit=policy.batch)
    published = 0
    for publication_id in due:
        async with sessionmaker.begin() as session:
            taken = await _take(session, publication_id, now=clock(), lease=policy.lease)
        if taken is None:
            continue
        outcome = await _send(http, token, taken)
        values = _answered(outcome, taken, now=clock(), policy=policy)
        async with sessionmaker.begin() as session:
            recorded = await repository.update_at_version(
                session, taken.id, expected_version=taken.version, values=values
            )
        if not recorded:
            # Its lease lapsed and another publisher took it: that one's answer stands.
            continue
        published += isinstance(outcome, Publication)
        log.info(
            "certificate_publication",
            publication_id=str(taken.id),
            outcome=values.get("status", "retry"),
            error=values.get("last_error"),
            attempts=taken.attempts,
        )
    return published


async def publish_certificates(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    token: ServiceToken,
    clock: Callable[[], dt.datetime],
    *,
    every_seconds: float,
    policy: PublishPolicy = PublishPolicy(),
) -> None:
    """Every ``every_seconds`` until cancelled: publish what is due. A failed round (the
    database away) is logged and the next one tries again."""
    while True:
        try:
            await publish_due(sessionmaker, http, token, clock, policy=policy)
        except SQLAlchemyError as exc:
            log.warning("certificate_publishing_failed", error_type=type(exc).__name__)
        await asyncio.sleep(every_seconds)
