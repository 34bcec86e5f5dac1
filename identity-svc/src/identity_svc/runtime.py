"""What identity-svc holds for its whole life besides the kit's parts and its SMS sender: the
clock, the key store, the personal-data cipher, the password hasher, the catalog directory
(regions and departments), the revocation list its verifier holds and the sign-in attempts in
progress. Endpoints take it as ``RuntimeDep`` (``identity_svc.deps``).

The clock is injectable so that tests move time (challenge expiry, lockouts, the face window)
instead of sleeping; every rule that reads the time reads it from here.
"""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity_svc.clients.catalog import CatalogDirectory
from identity_svc.keys.service import KeyStore
from identity_svc.passwords import Passwords
from identity_svc.personal_data import PersonalData
from identity_svc.settings import IdentitySettings
from servicekit.db import utcnow
from servicekit.revocations import RevocationList

Clock = Callable[[], dt.datetime]


class OneAttemptAtATime:
    """Sign-in attempts at one login name, one at a time in this process. Login throttling
    checks the failures counted so far; attempts made at once would all pass that check before
    any of them is counted, and a botnet's parallel guesses would multiply what each wait
    allows. With this, at most one guess per identity-svc process gets through each wait."""

    def __init__(self) -> None:
        #: login hash → its lock and how many attempts hold or wait for it.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def __call__(self, login_hash: str) -> AsyncIterator[None]:
        lock, holders = self._locks.get(login_hash) or (asyncio.Lock(), 0)
        self._locks[login_hash] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[login_hash]
            if holders == 1:
                del self._locks[login_hash]
            else:
                self._locks[login_hash] = (lock, holders - 1)


class Runtime:
    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self.clock: Clock = utcnow
        self.keys = KeyStore(
            settings.key_encryption_key_bytes,
            clock=self.now,
            grace=dt.timedelta(seconds=settings.signing_key_grace_seconds),
            reload_every=dt.timedelta(seconds=settings.signing_key_reload_seconds),
            max_age=(
                dt.timedelta(days=settings.signing_key_max_age_days)
                if settings.signing_key_max_age_days
                else None
            ),
        )
        self.personal_data = PersonalData(lookup_key=settings.lookup_hash_key_bytes)
        self.passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.password_hash_concurrency,
        )
        self.catalog = CatalogDirectory(cache_seconds=settings.region_cache_seconds)
        #: The tokens ended early, as identity-svc's own verifier refuses them (kept current
        #: from the database by the app's lifespan).
        self.revocations = RevocationList()
        self.sign_in_attempt = OneAttemptAtATime()
        self._outcomes: async_sessionmaker[AsyncSession] | None = None

    def attach(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._outcomes = sessions
        self.keys.attach(sessions)

    @property
    def outcomes(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for what must be recorded even when the request is refused: failed logins,
        failed verifications, spent challenges, revoked sessions. The request's own transaction
        rolls back on the refusal; these commit on their own. Use them before the request's
        session writes anything (SQLite allows one writer at a time)."""
        if self._outcomes is None:
            raise RuntimeError("the runtime is used before the application started")
        return self._outcomes

    def now(self) -> dt.datetime:
        return self.clock()
