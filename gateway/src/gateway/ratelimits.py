"""Rate limits: token buckets per caller and route class, in this process or in Redis.

Each limit of the routing table applies to one route class and counts per user (the verified
token's subject; requests without a verified token are not counted by it) or per address (the
caller's IP). A bucket holds up to ``burst`` requests and refills at ``rate_per_second``; a
request that finds any of its buckets empty is refused with 429 ``rate_limited`` and a
``Retry-After`` saying when one request will pass again, and takes nothing from the others.

``TokenBuckets`` counts in this process: several gateway replicas each count their own share.
Buckets unused the longest are forgotten beyond ``max_buckets``; a forgotten bucket comes back
full, which is what an idle one would be. ``SharedTokenBuckets`` keeps the same buckets in Redis
(``GATEWAY_REDIS_URL``), shared by every replica, and lets requests pass when Redis is down.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import redis
import redis.asyncio
import structlog

from gateway.routing import RateLimit
from servicekit.problems import DomainError

log = structlog.get_logger("gateway.ratelimits")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests: slow down"


def _refusal(limit: RateLimit, wait_seconds: float) -> RateLimited:
    return RateLimited(
        f"at most {limit.burst} at once, then {limit.rate_per_second:g} per second,"
        f" per {limit.per}",
        headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))},
    )


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
                raise _refusal(limit, (1.0 - bucket[0]) / limit.rate_per_second)
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


#: One request against several buckets, all or nothing, in one step on the Redis server, so
#: that replicas counting at once cannot both take the last token. Time is the server's, the
#: one clock every replica shares. KEYS: the buckets; ARGV: rate and burst of each, in turn.
#: Answers {0, ""} when the request passes, else {index of the empty bucket (from 1), seconds
#: until it holds one token}; a refused request writes nothing.
_TAKE_SCRIPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local levels = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1])
  if tokens == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - tonumber(state[2])) * rate)
  end
  if tokens < 1 then
    return {i, tostring((1 - tokens) / rate)}
  end
  levels[i] = tokens
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  -- A bucket left alone refills in burst / rate seconds: then it is as good as absent.
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return {0, ''}
"""


class SharedTokenBuckets:
    """The same buckets as ``TokenBuckets``, kept in Redis so that every gateway replica counts
    against the same ones (``GATEWAY_REDIS_URL``).

    Fails open: when Redis cannot be reached or does not answer within the timeout, the request
    passes, a warning is logged once for the outage, and Redis is left alone for
    ``retry_seconds`` so that an outage does not cost every request a timeout. A rate limit that
    stops the platform when its counter store is down would do more harm than the traffic it
    holds back. Buckets of one request may live on different nodes only with a single Redis
    (not a cluster): the script touches them all at once.
    """

    def __init__(
        self,
        limits: Sequence[RateLimit],
        client: redis.asyncio.Redis,
        *,
        key_prefix: str,
        retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_class: dict[str, list[tuple[int, RateLimit]]] = {}
        for index, limit in enumerate(limits):
            self._by_class.setdefault(limit.route_class, []).append((index, limit))
        self._client = client
        self._script = client.register_script(_TAKE_SCRIPT)
        self._key_prefix = key_prefix
        self._retry_seconds = retry_seconds
        self._clock = clock
        #: While set, the monotonic time before which Redis is not asked (it failed).
        self._unavailable_until: float | None = None

    def __bool__(self) -> bool:
        return bool(self._by_class)

    async def take(self, route_class: str, *, user: str | None, address: str | None) -> None:
        """Count one request of ``route_class``, or raise ``RateLimited``."""
        limits = self._by_class.get(route_class)
        if not limits:
            return
        keys: list[str] = []
        args: list[str] = []
        counted: list[RateLimit] = []
        for index, limit in limits:
            caller = user if limit.per == "user" else address
            if caller is None:
                continue
            keys.append(f"{self._key_prefix}{route_class}:{index}:{limit.per}:{caller}")
            args.extend((repr(limit.rate_per_second), str(limit.burst)))
            counted.append(limit)
        if not keys:
            return
        if self._unavailable_until is not None and self._clock() < self._unavailable_until:
            return
        try:
            empty, wait = await self._script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:  # OSError covers TimeoutError
            if self._unavailable_until is None:
                log.warning("rate_limit_store_unavailable", error_type=type(exc).__name__)
            self._unavailable_until = self._clock() + self._retry_seconds
            return
        if self._unavailable_until is not None:
            log.info("rate_limit_store_available")
            self._unavailable_until = None
        if empty:
            raise _refusal(counted[int(empty) - 1], float(wait))

    async def aclose(self) -> None:
        await self._client.aclose()


def shared_token_buckets(
    limits: Sequence[RateLimit], url: str, *, key_prefix: str, timeout_seconds: float
) -> SharedTokenBuckets:
    """Buckets in the Redis at ``url``; no connection is made until the first request."""
    client = redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
    )
    return SharedTokenBuckets(limits, client, key_prefix=key_prefix)
