"""Rate limits: token buckets per caller, in this process, by route class.

Each limit of the routing table applies to one route class and counts per user (the verified
token's subject; requests without a verified token are not counted by it) or per address (the
caller's IP). A bucket holds up to ``burst`` requests and refills at ``rate_per_second``; a
request that finds any of its buckets empty is refused with 429 ``rate_limited`` and a
``Retry-After`` saying when one request will pass again, and takes nothing from the others.

Counters live in this process: several gateway replicas each count their own share. Buckets
unused the longest are forgotten beyond ``max_buckets``; a forgotten bucket comes back full,
which is what an idle one would be.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from gateway.routing import RateLimit
from servicekit.problems import DomainError


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests: slow down"


class TokenBuckets:
    def __init__(
        self,
        limits: Sequence[RateLimit],
        *,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_class: dict[str, list[tuple[int, RateLimit]]] = {}
        for index, limit in enumerate(limits):
            self._by_class.setdefault(limit.route_class, []).append((index, limit))
        self._max_buckets = max_buckets
        self._clock = clock
        #: (limit index, caller) → [tokens, last refill]; least recently used first.
        self._buckets: OrderedDict[tuple[int, str], list[float]] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._by_class)

    def take(self, route_class: str, *, user: str | None, address: str | None) -> None:
        """Count one request of ``route_class``, or raise ``RateLimited``."""
        limits = self._by_class.get(route_class)
        if not limits:
            return
        now = self._clock()
        buckets: list[tuple[list[float], RateLimit]] = []
        for index, limit in limits:
            caller = user if limit.per == "user" else address
            if caller is None:
                continue
            bucket = self._bucket((index, caller), limit, now)
            if bucket[0] < 1.0:
                wait = (1.0 - bucket[0]) / limit.rate_per_second
                raise RateLimited(
                    f"at most {limit.burst} at once, then {limit.rate_per_second:g} per second,"
                    f" per {limit.per}",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            buckets.append((bucket, limit))
        for bucket, _limit in buckets:
            bucket[0] -= 1.0

    def _bucket(self, key: tuple[int, str], limit: RateLimit, now: float) -> list[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(limit.burst), now]
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refilled = bucket[0] + (now - bucket[1]) * limit.rate_per_second
            bucket[0] = min(float(limit.burst), refilled)
            bucket[1] = now
        return bucket
