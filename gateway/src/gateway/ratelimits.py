"""Rate limits by route class: token buckets per caller, in this process or in Redis.

Each limit of the routing table applies to one route class and counts per user (the verified
token's subject; requests without a verified token are not counted by it) or per address (the
caller's IP). A request that finds any of its buckets empty is refused with 429 ``rate_limited``
and a ``Retry-After`` saying when one request will pass again, and takes nothing from the
others. The buckets are the kit's (``servicekit.ratelimits``): ``TokenBuckets`` counts in this
process (several gateway replicas each count their own share); ``SharedTokenBuckets`` counts in
Redis (``GATEWAY_REDIS_URL``), shared by every replica, and lets requests pass when Redis is
down.
"""

import time
from collections.abc import Callable, Sequence

from gateway.routing import RateLimit
from servicekit.problems import DomainError
from servicekit.ratelimits import Charge, LocalBuckets, RedisBuckets, Refusal, redis_buckets


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests: slow down"


class _ByRouteClass:
    """Which limits apply to a request, and what its refusal says."""

    def __init__(self, limits: Sequence[RateLimit]) -> None:
        self._by_class: dict[str, list[tuple[int, RateLimit]]] = {}
        for index, limit in enumerate(limits):
            self._by_class.setdefault(limit.route_class, []).append((index, limit))

    def __bool__(self) -> bool:
        return bool(self._by_class)

    def charges(
        self, route_class: str, *, user: str | None, address: str | None
    ) -> tuple[list[Charge], list[RateLimit]]:
        charges: list[Charge] = []
        counted: list[RateLimit] = []
        for index, limit in self._by_class.get(route_class, ()):
            caller = user if limit.per == "user" else address
            if caller is None:
                continue
            key = f"{route_class}:{index}:{limit.per}:{caller}"
            charges.append(Charge(key, limit.rate_per_second, limit.burst))
            counted.append(limit)
        return charges, counted

    @staticmethod
    def refused(limits: list[RateLimit], refusal: Refusal | None) -> None:
        if refusal is None:
            return
        limit = limits[refusal.index]
        raise RateLimited(
            f"at most {limit.burst} at once, then {limit.rate_per_second:g} per second,"
            f" per {limit.per}",
            headers={"Retry-After": refusal.retry_after},
        )


class TokenBuckets(_ByRouteClass):
    def __init__(
        self,
        limits: Sequence[RateLimit],
        *,
        max_buckets: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limits)
        self._buckets = LocalBuckets(max_buckets=max_buckets, clock=clock)

    def take(self, route_class: str, *, user: str | None, address: str | None) -> None:
        """Count one request of ``route_class``, or raise ``RateLimited``."""
        charges, limits = self.charges(route_class, user=user, address=address)
        if charges:
            self.refused(limits, self._buckets.take(charges))


class SharedTokenBuckets(_ByRouteClass):
    """The same buckets as ``TokenBuckets``, kept in Redis so that every gateway replica counts
    against the same ones; requests pass while Redis is down (see ``RedisBuckets``)."""

    def __init__(self, limits: Sequence[RateLimit], buckets: RedisBuckets) -> None:
        super().__init__(limits)
        self._buckets = buckets

    async def take(self, route_class: str, *, user: str | None, address: str | None) -> None:
        """Count one request of ``route_class``, or raise ``RateLimited``."""
        charges, limits = self.charges(route_class, user=user, address=address)
        if charges:
            self.refused(limits, await self._buckets.take(charges))

    async def aclose(self) -> None:
        await self._buckets.aclose()


def shared_token_buckets(
    limits: Sequence[RateLimit], url: str, *, key_prefix: str, timeout_seconds: float
) -> SharedTokenBuckets:
    """Buckets in the Redis at ``url``; no connection is made until the first request."""
    return SharedTokenBuckets(
        limits, redis_buckets(url, key_prefix=key_prefix, timeout_seconds=timeout_seconds)
    )
