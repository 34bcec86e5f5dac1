"""Rate limits: a token bucket per user or per address and route class; an empty bucket is a
429 with Retry-After, and the refused request reaches no service."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.ratelimits import RateLimited, TokenBuckets
from gateway.routing import RateLimit, load_routing_table
from gateway.settings import ROUTES_SHIPPED
from servicekit.testing import ManualClock, TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


def test_a_bucket_lets_a_burst_through_then_one_request_per_refill() -> None:
    clock = ManualClock()
    buckets = TokenBuckets([RateLimit("default", "user", 0.5, 3)], clock=clock)
    for _ in range(3):
        buckets.take("default", user="c-1", address=None)
    with pytest.raises(RateLimited) as refused:
        buckets.take("default", user="c-1", address=None)
    assert refused.value.headers["Retry-After"] == "2"  # one request refills in 2 s
    clock.now += 2
    buckets.take("default", user="c-1", address=None)
    with pytest.raises(RateLimited):
        buckets.take("default", user="c-1", address=None)


@pytest.mark.parametrize(
    ("second_caller", "route_class", "refused"),
    [
        ({"user": "c-1", "address": "203.0.113.9"}, "default", True),
        ({"user": "c-2", "address": "203.0.113.9"}, "default", False),  # each user their own
        ({"user": None, "address": "203.0.113.9"}, "default", False),  # no user: not counted
        ({"user": "c-1", "address": "203.0.113.9"}, "search", False),  # another class
    ],
)
def test_each_limit_counts_per_caller_and_route_class(
    second_caller: dict[str, str | None], route_class: str, refused: bool
) -> None:
    buckets = TokenBuckets([RateLimit("default", "user", 1.0, 1)], clock=ManualClock())
    buckets.take("default", user="c-1", address="203.0.113.9")
    if refused:
        with pytest.raises(RateLimited):
            buckets.take(route_class, **second_caller)
    else:
        buckets.take(route_class, **second_caller)


def test_a_refused_request_takes_nothing_from_its_other_buckets() -> None:
    limits = [RateLimit("default", "address", 1.0, 5), RateLimit("default", "user", 1.0, 1)]
    buckets = TokenBuckets(limits, clock=ManualClock())
    buckets.take("default", user="c-1", address="203.0.113.9")
    for _ in range(3):
        with pytest.raises(RateLimited):
            buckets.take("default", user="c-1", address="203.0.113.9")
    for user in ("c-2", "c-3", "c-4", "c-5"):  # the address still has 4 of its 5
        buckets.take("default", user=user, address="203.0.113.9")
    with pytest.raises(RateLimited):
        buckets.take("default", user="c-6", address="203.0.113.9")


def test_buckets_beyond_the_bound_are_forgotten_least_recently_used_first() -> None:
    buckets = TokenBuckets(
        [RateLimit("default", "user", 1.0, 1)], max_buckets=2, clock=ManualClock()
    )
    for user in ("c-1", "c-2", "c-3"):
        buckets.take("default", user=user, address=None)
    buckets.take("default", user="c-1", address=None)  # forgotten: comes back full
    with pytest.raises(RateLimited):
        buckets.take("default", user="c-3", address=None)


async def test_the_gateway_answers_429_with_retry_after_and_forwards_nothing_more(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    routes = routes_with(
        identity={
            "public": [{"method": "POST", "path": "/identity/v1/token"}],
            "route_classes": [
                {"method": "POST", "path": "/identity/v1/token", "route_class": "credentials"}
            ],
        }
    )
    with routes.open("a", encoding="utf-8") as file:
        file.write(
            '[[rate_limits]]\nroute_class = "credentials"\nper = "address"\n'
            "rate_per_second = 0.1\nburst = 2\n"
            '[[rate_limits]]\nroute_class = "default"\nper = "user"\n'
            "rate_per_second = 0.1\nburst = 1\n"
        )
    gateway = await start_gateway(routes_file=routes)
    statuses = [(await gateway.post("/identity/v1/token")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = await gateway.post("/identity/v1/token")
    problem(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "10"
    assert services["identity"].received == ["/identity/v1/token"] * 2

    first, second = bearer(token_minter.mint("c-1")), bearer(token_minter.mint("c-2"))
    assert (await gateway.get("/cases/v1/cases", headers=first)).status_code == 200
    assert (await gateway.get("/cases/v1/cases", headers=first)).status_code == 429
    assert (await gateway.get("/cases/v1/cases", headers=second)).status_code == 200


@pytest.mark.parametrize(
    ("trusted_proxies", "separately"),
    [(["127.0.0.1"], True), ([], False)],
    ids=["behind a trusted proxy", "at the edge"],
)
async def test_clients_behind_a_trusted_proxy_are_counted_by_their_own_address(
    start_gateway: Any,
    routes_with: Callable[..., Path],
    trusted_proxies: list[str],
    separately: bool,
) -> None:
    routes = routes_with(identity={"public": [{"method": "POST", "path": "/identity/v1/token"}]})
    with routes.open("a", encoding="utf-8") as file:
        file.write(
            '[[rate_limits]]\nroute_class = "default"\nper = "address"\n'
            "rate_per_second = 0.01\nburst = 1\n"
        )
    gateway = await start_gateway(routes_file=routes, trusted_proxies=trusted_proxies)

    async def token_from(address: str) -> int:
        response = await gateway.post("/identity/v1/token", headers={"x-forwarded-for": address})
        return response.status_code

    assert await token_from("203.0.113.10") == 200
    assert await token_from("203.0.113.10") == 429
    # Another client: its own bucket when a trusted proxy names it, else the peer's (spent).
    assert await token_from("203.0.113.20") == (200 if separately else 429)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/identity/v1/staff/0190f5c2-0000-7000-8000-000000000001/roles"),
        ("POST", "/identity/v1/staff/0190f5c2-0000-7000-8000-000000000001/disable"),
        ("DELETE", "/identity/v1/clients/330302-public_security-records"),
        ("DELETE", "/identity/v1/clients/330302-public_security-records/previous-secret"),
    ],
    ids=["staff roles", "staff disabling", "client disabling", "end of a rotation's overlap"],
)
async def test_staff_and_client_administration_is_capped_per_administrator(
    start_gateway: Any,
    services: dict[str, Any],
    token_minter: TokenMinter,
    problem: Problem,
    method: str,
    path: str,
) -> None:
    # Each of these ends sessions and grows the revocation list every gateway polls: one
    # administrator's token must not be able to do it without bound.
    (administration,) = (
        limit
        for limit in load_routing_table(ROUTES_SHIPPED).rate_limits
        if limit.route_class == "administration"
    )
    assert administration.per == "user"
    gateway = await start_gateway()
    admin = bearer(token_minter.mint("admin-1", typ="staff", roles=("department_admin",)))
    started = time.monotonic()
    answers: list[httpx.Response] = []
    while len(answers) < 3 * administration.burst:
        answers.append(await gateway.request(method, path, headers=admin))
        if answers[-1].status_code == 429:
            break
    elapsed = time.monotonic() - started
    statuses = [answer.status_code for answer in answers]
    # The burst, and what refilled while it was being spent (answers here are not instant).
    assert statuses[: administration.burst] == [200] * administration.burst, statuses
    refilled = administration.rate_per_second * elapsed
    assert statuses.count(200) <= administration.burst + refilled + 1, statuses
    problem(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert services["identity"].received.count(path) == statuses.count(200)

    another_admin = bearer(token_minter.mint("admin-2", typ="staff", roles=("department_admin",)))
    assert (await gateway.request(method, path, headers=another_admin)).status_code == 200
