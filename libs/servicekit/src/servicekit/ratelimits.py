"""Token buckets, all or nothing: counted in this process, or in Redis for every process.

A request is charged to one or more buckets at once (a caller's and an address's at the
gateway, each grant a data call relies on at the exchange). It passes only if every bucket
holds a token, and then takes one from each; refused, it takes nothing and learns which bucket
was empty and how long until that one holds a token again. A bucket holds up to ``burst``
tokens and refills at ``rate_per_second``; a bucket nobody charged is full.

``LocalBuckets`` counts in this process: N processes each count their own share, N times the
rate in all. Buckets unused the longest are forgotten beyond ``max_buckets`` (a forgotten
bucket comes back full, as an idle one would be). ``RedisBuckets`` keeps the buckets in Redis,
one count for every process and replica, and lets requests pass while Redis cannot answer.
"""

import dataclasses
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import redis
import redis.asyncio
import structlog


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up when an outage begins or ends (rarely): a module-level logger is cached at its
    # first use with the configuration of that moment, which tests reconfigure.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("servicekit.ratelimits")
    return logger


@dataclasses.dataclass(frozen=True, slots=True)
class Charge:
    """One token from the bucket ``key``, which holds ``burst`` and refills at a rate."""

    key: str
    rate_per_second: float
    burst: int


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """The request did not pass: ``charges[index]`` was empty for ``wait_seconds`` more."""

    index: int
    wait_seconds: float

    @property
    def retry_after(self) -> str:
        """The ``Retry-After`` header's value: whole seconds, at least one."""
        return str(max(1, math.ceil(self.wait_seconds)))


class LocalBuckets:
    def __init__(
        self, *, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_buckets = max_buckets
        self._clock = clock
        #: key → [tokens, last refill]; least recently used first.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, charges: Sequence[Charge]) -> Refusal | None:
        now = self._clock()
        buckets: list[list[float]] = []
        for index, charge in enumerate(charges):
            bucket = self._bucket(charge, now)
            if bucket[0] < 1.0:
                return Refusal(index, (1.0 - bucket[0]) / charge.rate_per_second)
            buckets.append(bucket)
        for bucket in buckets:
            bucket[0] -= 1.0
        return None

    def _bucket(self, charge: Charge, now: float) -> list[float]:
        bucket = self._buckets.get(charge.key)
        if bucket is None:
            bucket = self._buckets[charge.key] = [float(charge.burst), now]
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(charge.key)
            refilled = bucket[0] + (now - bucket[1]) * charge.rate_per_second
            bucket[0] = min(float(charge.burst), refilled)
            bucket[1] = now
        return bucket


#: One request against several buckets, all or nothing, in one step on the Redis server, so
#: that processes counting at once cannot both take the last token. Time is the server's, the
#: one clock every process shares. KEYS: the buckets; ARGV: rate and burst of each, in turn.
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


class RedisBuckets:
    """The buckets in Redis, under ``key_prefix``: every process counts against the same ones.

    Fails open: when Redis cannot be reached or does not answer within the client's timeout,
    the request passes, a warning is logged once for the outage, and Redis is left alone for
    ``retry_seconds`` so that an outage does not cost every request a timeout. A rate limit
    that stops the platform when its counter store is down would do more harm than the traffic
    it holds back. The buckets of one request must live on one node (a single Redis, not a
    cluster): the script touches them all at once.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        key_prefix: str,
        retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._script = client.register_script(_TAKE_SCRIPT)
        self._key_prefix = key_prefix
        self._retry_seconds = retry_seconds
        self._clock = clock
        #: While set, the monotonic time before which Redis is not asked (it failed).
        self._unavailable_until: float | None = None

    async def take(self, charges: Sequence[Charge]) -> Refusal | None:
        if not charges:
            return None
        if self._unavailable_until is not None and self._clock() < self._unavailable_until:
            return None
        keys = [self._key_prefix + charge.key for charge in charges]
        args: list[str] = []
        for charge in charges:
            args.extend((repr(charge.rate_per_second), str(charge.burst)))
        try:
            empty, wait = await self._script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:  # OSError covers TimeoutError
            if self._unavailable_until is None:
                _log().warning("rate_limit_store_unavailable", error_type=type(exc).__name__)
            self._unavailable_until = self._clock() + self._retry_seconds
            return None
        if self._unavailable_until is not None:
            _log().info("rate_limit_store_available")
            self._unavailable_until = None
        return Refusal(int(empty) - 1, float(wait)) if empty else None

    async def aclose(self) -> None:
        await self._client.aclose()


def redis_buckets(url: str, *, key_prefix: str, timeout_seconds: float) -> RedisBuckets:
    """Buckets in the Redis at ``url``; no connection is made until the first request."""
    client = redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
    )
    return RedisBuckets(client, key_prefix=key_prefix)
