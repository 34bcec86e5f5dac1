"""Per-grant rate limits: a token bucket per grant, counted in this process's memory.

A grant with a rate (``rate_per_minute``, ``rate_burst``) lets its consumer make ``burst``
calls at once and then ``rate_per_minute / 60`` a second. A call is charged to every grant its
authorisation relied on; if any of them has no token left, none is charged and the call is
refused with the time until one will have (``Retry-After``). Each process counts for itself:
with N processes serving the exchange, a consumer can reach N times its rate.
"""

import dataclasses
import math
import time
import uuid
from collections.abc import Callable, Sequence

from data_exchange_svc.grants.cache import ActiveGrant


@dataclasses.dataclass(slots=True)
class TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated_at: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated_at = now

    def wait(self) -> float:
        """Seconds until a token is there (0: there is one now). Call after ``refill``."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


#: A bucket belongs to a grant at one rate: (grant id, per minute, burst).
_BucketKey = tuple[uuid.UUID, int, int]


class GrantRateLimiter:
    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: dict[_BucketKey, TokenBucket] = {}

    def _bucket(self, key: _BucketKey, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._forget_full(now)
            _, per_minute, burst = key
            bucket = TokenBucket(float(burst), per_minute / 60, float(burst), now)
            self._buckets[key] = bucket
        bucket.refill(now)
        return bucket

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._buckets[key]

    def take(self, grants: Sequence[ActiveGrant]) -> int | None:
        """Charge one call to each grant that has a rate; None if they all had a token, else
        the whole seconds to wait (at least 1), and nothing is charged."""
        now = self._clock()
        buckets = [
            self._bucket((grant.id, grant.rate_per_minute, grant.rate_burst), now)
            for grant in grants
            if grant.rate_per_minute is not None and grant.rate_burst is not None
        ]
        wait = max((bucket.wait() for bucket in buckets), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
