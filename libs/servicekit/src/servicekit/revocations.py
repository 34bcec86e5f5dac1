"""Access tokens ended before their ``exp``: the list identity-svc publishes and verifiers hold.

An access token lives ten minutes and is verified by signature alone, so ending a session (a
logout, a disabled staff account, a role taken away) or a client (disabled, or a rotated
secret's overlap ended) needs a list of what to refuse meanwhile. identity-svc publishes it at
``GET /identity/v1/revocations?cursor=``; each entry names the tokens it refuses::

    {"kind": "session", "id": "<sid>", "issued_up_to": 1796545440, "expires_at": "..."}
        tokens whose ``sid`` is this session, issued (``iat``) at or before that second
    {"kind": "client", "id": "<client id>", "issued_up_to": 1796545440,
     "generations_below": 3, "expires_at": "..."}
        tokens of this client (``sub``) issued at or before that second; with
        ``generations_below``, only those granted with an older secret (their ``sgen``)

An entry is kept until ``expires_at``: by then every token it covers has expired. A holder asks
with the ``next_cursor`` of the previous answer and receives what was recorded since (and a
little before: entries are sets, seeing one twice changes nothing); without a cursor, every
entry in force. ``RevocationList.follow`` polls a source every few seconds, keeping what it
holds while the source is away; ``TokenVerifier(revocations=...)`` refuses what the list
covers with 401 ``token_revoked``.

Who follows it: the gateway, which every request from outside and every call between services
passes (from identity-svc's instances, every ``GATEWAY_REVOCATION_POLL_SECONDS``), and
identity-svc itself (from its own database), whose token exchange takes tokens in a form body
that the gateway never checks. The other services verify signatures only: behind the gateway
(the only way in, by network policy) a revoked token has already been refused, and a poller in
every instance of every service would multiply the load on identity-svc for a check that only
matters to a caller already inside the cluster (``build_app(revocations=...)`` and ``follow``
serve a service that comes to need it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import structlog

if TYPE_CHECKING:
    from servicekit.auth import Principal

log = structlog.get_logger("servicekit.revocations")

#: The token types a client (department system, internal service) holds: their ``sub`` is the
#: client's id.
CLIENT_TYPES = frozenset({"department_system", "service"})


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of the list (see the module's docstring)."""

    kind: Literal["session", "client"]
    id: str
    issued_up_to: int
    expires_at: float
    generations_below: int | None = None

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Revocation:
        """An entry as the feed writes it; ``ValueError`` for anything else."""
        kind = entry.get("kind")
        if kind not in ("session", "client"):
            raise ValueError("an entry's kind is session or client")
        generations = entry.get("generations_below")
        expires_at = dt.datetime.fromisoformat(str(entry["expires_at"]))
        return cls(
            kind=kind,
            id=str(entry["id"]),
            issued_up_to=int(entry["issued_up_to"]),
            expires_at=expires_at.timestamp(),
            generations_below=None if generations is None else int(generations),
        )


@dataclass(frozen=True, slots=True)
class RevocationPage:
    """What one poll brought: the entries and the cursor to ask with next."""

    entries: list[Revocation]
    next_cursor: str | None


#: Asks the publisher for the entries since a cursor (None: every entry in force); raises on
#: any failure.
RevocationSource = Callable[[str | None], Awaitable[RevocationPage]]


def page_from_json(document: Any) -> RevocationPage:
    """The feed's answer (``{"items": [...], "next_cursor": ...}``); ``ValueError`` otherwise."""
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ValueError("the revocation list came in an unexpected shape")
    try:
        entries = [Revocation.from_json(entry) for entry in document["items"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError("a revocation entry came in an unexpected shape") from exc
    cursor = document.get("next_cursor")
    return RevocationPage(entries, cursor if isinstance(cursor, str) else None)


class RevocationList:
    """The entries in force, by session id and by client id, checked on every request: two
    dictionary look-ups at most, none while the list is empty."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        #: sid → (issued up to, expires at)
        self._sessions: dict[str, tuple[int, float]] = {}
        #: client id → (issued up to, generations below or None for every one, expires at)
        self._clients: dict[str, tuple[int, int | None, float]] = {}
        self._any = False
        #: Whether a poll has succeeded since the list was made (readiness, tests).
        self.loaded = asyncio.Event()

    def __len__(self) -> int:
        return len(self._sessions) + len(self._clients)

    def refuses(self, principal: Principal) -> bool:
        """Whether an entry covers the principal's token."""
        if not self._any:
            return False
        sid = principal.sid
        if sid is not None:  # a session's token (a client's has none)
            ended = self._sessions.get(sid)
            return ended is not None and principal.iat <= ended[0]
        if principal.typ not in CLIENT_TYPES:
            return False
        client = self._clients.get(principal.sub)
        if client is None or principal.iat > client[0]:
            return False
        below = client[1]
        return below is None or (principal.sgen or 0) < below

    def apply(self, entries: Iterable[Revocation]) -> None:
        """Add entries (one seen before changes nothing) and drop those run out."""
        now = self._clock()
        for entry in entries:
            if entry.expires_at <= now:
                continue
            if entry.kind == "session":
                up_to, expires = self._sessions.get(entry.id, (entry.issued_up_to, 0.0))
                self._sessions[entry.id] = (
                    max(up_to, entry.issued_up_to),
                    max(expires, entry.expires_at),
                )
            else:
                self._clients[entry.id] = _merged_client(self._clients.get(entry.id), entry)
        self._sessions = {sid: held for sid, held in self._sessions.items() if held[1] > now}
        self._clients = {cid: held for cid, held in self._clients.items() if held[2] > now}
        self._any = bool(self._sessions or self._clients)

    async def follow(self, source: RevocationSource, *, every_seconds: float) -> None:
        """Poll ``source`` every ``every_seconds`` for ever (cancel to stop). A failed poll
        keeps what is held (entries run out on their own) and asks for the whole list next."""
        cursor: str | None = None
        while True:
            try:
                page = await source(cursor)
            except Exception as exc:
                # Only the error's type: nothing of the answer is logged.
                log.warning("revocation_list_not_refreshed", error_type=type(exc).__name__)
                cursor = None
            else:
                self.apply(page.entries)
                cursor = page.next_cursor
                self.loaded.set()
            await asyncio.sleep(every_seconds)


def _merged_client(
    held: tuple[int, int | None, float] | None, entry: Revocation
) -> tuple[int, int | None, float]:
    """Two entries of one client: the later time, every generation if either covers every
    one, else the newer of the two, and the later expiry."""
    if held is None:
        return entry.issued_up_to, entry.generations_below, entry.expires_at
    up_to, below, expires = held
    merged_below = (
        None
        if below is None or entry.generations_below is None
        else max(below, entry.generations_below)
    )
    return max(up_to, entry.issued_up_to), merged_below, max(expires, entry.expires_at)
