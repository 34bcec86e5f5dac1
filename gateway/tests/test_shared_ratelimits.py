"""Rate limits shared by gateway replicas through Redis: the buckets are the in-process ones,
counted on the Redis server in one atomic step; when Redis is down, requests pass and a warning
says so.

Against the real Redis of this machine (skipped where none answers), under a key prefix of each
test's own, deleted afterwards."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from structlog.testing import capture_logs

from gateway.ratelimits import RateLimited, SharedTokenBuckets, shared_token_buckets
from gateway.routing import RateLimit
from servicekit.testing import REDIS_URL, TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def _replicas(
    limits: list[RateLimit], prefix: str, count: int = 2
) -> list[SharedTokenBuckets]:
    return [
        shared_token_buckets(limits, REDIS_URL, key_prefix=prefix, timeout_seconds=1.0)
        for _ in range(count)
    ]


async def test_replicas_take_from_the_same_buckets(redis_key_prefix: str) -> None:
    first, second = await _replicas([RateLimit("default", "user", 0.01, 3)], redis_key_prefix)
    try:
        await first.take("default", user="c-1", address=None)
        await first.take("default", user="c-1", address=None)
        await second.take("default", user="c-1", address=None)
        for replica in (first, second):
            with pytest.raises(RateLimited) as refused:
                await replica.take("default", user="c-1", address=None)
            assert refused.value.headers["Retry-After"] == "100"  # one token per 100 s
        await second.take("default", user="c-2", address=None)  # each user their own
    finally:
        await first.aclose()
        await second.aclose()


async def test_concurrent_requests_on_several_replicas_never_share_out_more_than_the_burst(
    redis_key_prefix: str,
) -> None:
    replicas = await _replicas(
        [RateLimit("default", "address", 0.01, 5)], redis_key_prefix, count=3
    )

    async def attempt(replica: SharedTokenBuckets) -> bool:
        try:
            await replica.take("default", user=None, address="203.0.113.9")
        except RateLimited:
            return False
        return True

    try:
        passed = await asyncio.gather(*(attempt(replicas[i % 3]) for i in range(30)))
        assert passed.count(True) == 5
    finally:
        for replica in replicas:
            await replica.aclose()


async def test_a_refused_request_takes_nothing_from_its_other_shared_buckets(
    redis_key_prefix: str,
) -> None:
    limits = [RateLimit("default", "address", 0.01, 3), RateLimit("default", "user", 0.01, 1)]
    (buckets,) = await _replicas(limits, redis_key_prefix, count=1)
    try:
        await buckets.take("default", user="c-1", address="203.0.113.9")
        for _ in range(3):
            with pytest.raises(RateLimited):
                await buckets.take("default", user="c-1", address="203.0.113.9")
        for user in ("c-2", "c-3"):  # the address still has 2 of its 3
            await buckets.take("default", user=user, address="203.0.113.9")
        with pytest.raises(RateLimited):
            await buckets.take("default", user="c-4", address="203.0.113.9")
    finally:
        await buckets.aclose()


async def test_idle_buckets_expire_once_they_would_be_full_again(redis_key_prefix: str) -> None:
    (buckets,) = await _replicas([RateLimit("default", "user", 2.0, 10)], redis_key_prefix, count=1)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await buckets.take("default", user="c-1", address=None)
        keys = [key async for key in client.scan_iter(match=redis_key_prefix + "*")]
        assert len(keys) == 1
        assert 0 < await client.pttl(keys[0]) <= 6000  # 10 tokens at 2/s: 5 s, plus a margin
    finally:
        await buckets.aclose()
        await client.aclose()


async def test_requests_pass_with_one_warning_while_redis_is_down(dead_url: str) -> None:
    port = httpx.URL(dead_url).port
    buckets = shared_token_buckets(
        [RateLimit("default", "user", 0.01, 1)],
        f"redis://127.0.0.1:{port}/0",
        key_prefix="onevisit-test:down:",
        timeout_seconds=0.5,
    )
    try:
        with capture_logs() as logs:
            for _ in range(5):  # far beyond the burst of 1
                await buckets.take("default", user="c-1", address=None)
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert [entry["event"] for entry in warnings] == ["rate_limit_store_unavailable"]
    finally:
        await buckets.aclose()


async def test_two_gateways_on_one_redis_share_their_counters(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    token_minter: TokenMinter,
    problem: Problem,
    redis_key_prefix: str,
) -> None:
    routes = routes_with()
    with routes.open("a", encoding="utf-8") as file:
        file.write(
            '[[rate_limits]]\nroute_class = "default"\nper = "user"\n'
            "rate_per_second = 0.01\nburst = 2\n"
        )
    gateways = [
        await start_gateway(
            routes_file=routes, redis_url=REDIS_URL, redis_key_prefix=redis_key_prefix
        )
        for _ in range(2)
    ]
    token = bearer(token_minter.mint("c-1"))
    assert (await gateways[0].get("/cases/v1/cases", headers=token)).status_code == 200
    assert (await gateways[1].get("/cases/v1/cases", headers=token)).status_code == 200
    for gateway in gateways:
        refused = await gateway.get("/cases/v1/cases", headers=token)
        problem(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "100"
