"""Per-grant rate limits, on the kit's token buckets (``servicekit.ratelimits``).

A grant with a rate (``rate_per_minute``, ``rate_burst``) lets its consumer make ``burst``
calls at once and then ``rate_per_minute / 60`` a second. A call is charged to every grant its
authorisation relied on; if any of them has no token left, none is charged and the call is
refused with the time until one will have (``Retry-After``).

Counted in Redis when ``EXCHANGE_REDIS_URL`` is set: every process of the exchange counts
against the same buckets, and calls pass uncounted while Redis cannot answer (a warning says
so). Unset, each process counts for itself: with N processes a consumer can reach N times its
rate.
"""

import time
from collections.abc import Callable, Sequence

from data_exchange_svc.grants.cache import ActiveGrant
from servicekit.ratelimits import Charge, LocalBuckets, RedisBuckets, redis_buckets


class GrantRateLimiter:
    def __init__(self, buckets: LocalBuckets | RedisBuckets) -> None:
        self._buckets = buckets

    @classmethod
    def in_process(cls, *, clock: Callable[[], float] = time.monotonic) -> "GrantRateLimiter":
        return cls(LocalBuckets(clock=clock))

    @classmethod
    def in_redis(cls, url: str, *, key_prefix: str, timeout_seconds: float) -> "GrantRateLimiter":
        return cls(redis_buckets(url, key_prefix=key_prefix, timeout_seconds=timeout_seconds))

    async def take(self, grants: Sequence[ActiveGrant]) -> int | None:
        """Charge one call to each grant that has a rate; None if they all had a token, else
        the whole seconds to wait (at least 1), and nothing is charged."""
        charges = [
            # A bucket belongs to a grant at one rate: a changed rate starts a full one.
            Charge(f"{grant.id}:{per_minute}:{burst}", per_minute / 60, burst)
            for grant in grants
            if (per_minute := grant.rate_per_minute) is not None
            and (burst := grant.rate_burst) is not None
        ]
        if not charges:
            return None
        if isinstance(self._buckets, LocalBuckets):
            refusal = self._buckets.take(charges)
        else:
            refusal = await self._buckets.take(charges)
        return None if refusal is None else int(refusal.retry_after)

    async def aclose(self) -> None:
        if isinstance(self._buckets, RedisBuckets):
            await self._buckets.aclose()
