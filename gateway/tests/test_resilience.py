"""A pool of several instances: the least busy takes each request, failing instances are
ejected and unhealthy ones taken out of rotation, a full pool refuses at once, and requests safe
to repeat are retried on another instance within a budget. Every instance is a real server (or
a port where nothing listens); what happened is read from the instances and the gateway's
metrics, waiting for conditions rather than for time."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.routing import Resilience
from gateway.tests.conftest import POOLED, FakeService
from gateway.upstreams import ejection_seconds
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

NAME, PREFIX = POOLED
#: Retries at once in these tests: they count attempts, not time.
NO_BACKOFF = {"retry_backoff_base_seconds": 0.0, "retry_backoff_max_seconds": 0.0}


@pytest.fixture
def token(token_minter: TokenMinter) -> dict[str, str]:
    return bearer(token_minter.mint("c-1"))


@pytest.fixture
def pool_of(
    start_gateway: Any, routes_with: Callable[..., Path]
) -> Callable[..., Awaitable[httpx.AsyncClient]]:
    """A gateway whose ``POOLED`` service has the given instances and resilience policy."""

    async def start(
        urls: list[str], *, timeouts: list[dict[str, Any]] | None = None, **policy: Any
    ) -> httpx.AsyncClient:
        # ``http_*`` are the gateway's settings; the rest, the routing table's policy.
        settings = {key: policy.pop(key) for key in list(policy) if key.startswith("http_")}
        spec: dict[str, Any] = {
            "prefix": PREFIX,
            "upstreams": urls,
            "timeout_seconds": 5.0,
            "resilience": {**NO_BACKOFF, **policy},
        }
        if timeouts:
            spec["timeouts"] = timeouts
        client: httpx.AsyncClient = await start_gateway(
            routes_file=routes_with(**{NAME: spec}), **settings
        )
        return client

    return start


def served(fake: FakeService) -> int:
    """Requests of the service's own (not health checks) that reached this instance."""
    return sum(1 for path in fake.received if path.startswith(PREFIX))


async def metric(gateway: httpx.AsyncClient, name: str, **labels: str) -> float:
    text = (await gateway.get("/metrics")).text
    wanted = {"service": NAME, "pool": "province", **labels}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return float(sample.value)
    return 0.0


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for a condition the gateway reaches on its own (a health check, a timer)."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"the gateway never reached this state: {what}")


def in_rotation(gateway: httpx.AsyncClient, instance: str, value: float) -> Callable[[], Any]:
    async def check() -> bool:
        return await metric(gateway, "gateway_upstream_in_rotation", instance=instance) == value

    return check


def _reveals_no_address(response: httpx.Response, *urls: str) -> None:
    for url in urls:
        assert url.removeprefix("http://") not in response.text
    assert "127.0.0.1" not in response.text


async def test_the_least_busy_instance_takes_the_request(
    pool_of: Any, pooled_instances: list[FakeService], token: dict[str, str]
) -> None:
    gateway = await pool_of([fake.url for fake in pooled_instances])
    slow = asyncio.create_task(gateway.get(f"{PREFIX}/slow", headers=token))
    arrivals = [asyncio.create_task(fake.slow_arrived.wait()) for fake in pooled_instances]
    done, pending = await asyncio.wait(arrivals, return_when=asyncio.FIRST_COMPLETED)
    for waiting in pending:
        waiting.cancel()
    busy = pooled_instances[arrivals.index(done.pop())]
    idle = next(fake for fake in pooled_instances if fake is not busy)

    for _ in range(4):  # taking turns would send two of them to the busy one
        response = await gateway.get(f"{PREFIX}/echo", headers=token)
        assert response.status_code == 200
        assert response.json()["service"] == idle.name
    assert served(busy) == 1

    busy.release_slow.set()
    assert (await slow).status_code == 200


async def test_a_dead_instance_is_ejected_and_the_other_serves_everything(
    pool_of: Any, pooled_instances: list[FakeService], dead_url: str, token: dict[str, str]
) -> None:
    live = pooled_instances[0]
    gateway = await pool_of([dead_url, live.url], consecutive_failures_to_eject=1)
    ejections = await metric(gateway, "gateway_upstream_ejections_total", instance="0")
    refused = await metric(
        gateway, "gateway_upstream_requests_total", instance="0", outcome="connect_failure"
    )

    # Taking turns, one of two requests meets the dead instance: retried, it still succeeds.
    for _ in range(2):
        assert (await gateway.get(f"{PREFIX}/echo", headers=token)).status_code == 200
    assert await metric(gateway, "gateway_upstream_ejections_total", instance="0") == ejections + 1
    assert await metric(gateway, "gateway_upstream_in_rotation", instance="0") == 0
    # Ejected, it is not tried again: even requests that may not be retried succeed.
    for _ in range(4):
        assert (await gateway.post(f"{PREFIX}/echo", headers=token)).status_code == 200
    assert served(live) == 6
    connect_failures = await metric(
        gateway, "gateway_upstream_requests_total", instance="0", outcome="connect_failure"
    )
    assert connect_failures == refused + 1


async def test_ejection_never_takes_more_than_its_share_of_a_pool_nor_its_last_instance(
    pool_of: Any, dead_url: str, another_dead_url: str, token: dict[str, str], problem: Problem
) -> None:
    gateway = await pool_of(
        [dead_url, another_dead_url], consecutive_failures_to_eject=1, max_ejection_percent=50
    )
    before = [
        await metric(gateway, "gateway_upstream_ejections_total", instance=str(position))
        for position in range(2)
    ]
    for _ in range(3):
        response = await gateway.get(f"{PREFIX}/echo", headers=token)
        problem(response, 503, "upstream_unavailable")
        _reveals_no_address(response, dead_url, another_dead_url)
    after = [
        await metric(gateway, "gateway_upstream_ejections_total", instance=str(position))
        for position in range(2)
    ]
    assert sum(after) - sum(before) == 1


async def test_an_ejected_instance_returns_when_its_ejection_ends(
    pool_of: Any, pooled_instances: list[FakeService], dead_url: str, token: dict[str, str]
) -> None:
    gateway = await pool_of(
        [dead_url, pooled_instances[0].url],
        consecutive_failures_to_eject=1,
        base_ejection_seconds=0.05,
    )
    ejections = await metric(gateway, "gateway_upstream_ejections_total", instance="0")

    async def connect_failures() -> float:
        return await metric(
            gateway, "gateway_upstream_requests_total", instance="0", outcome="connect_failure"
        )

    before = await connect_failures()
    for _ in range(2):  # taking turns, one of two meets the dead instance
        assert (await gateway.get(f"{PREFIX}/echo", headers=token)).status_code == 200
        if await metric(gateway, "gateway_upstream_ejections_total", instance="0") > ejections:
            break
    assert await metric(gateway, "gateway_upstream_ejections_total", instance="0") == ejections + 1

    await until(in_rotation(gateway, "0", 1), "the ejected instance back in rotation")
    # Back in rotation, it is tried again (and, still dead, fails again).
    for _ in range(2):
        assert (await gateway.get(f"{PREFIX}/echo", headers=token)).status_code == 200
    assert await connect_failures() >= before + 2


def test_each_ejection_in_a_row_lasts_longer_up_to_the_cap() -> None:
    policy = Resilience(base_ejection_seconds=30.0, max_ejection_seconds=100.0)
    assert [ejection_seconds(times, policy) for times in (1, 2, 3, 4, 5)] == [
        30.0,
        60.0,
        90.0,
        100.0,
        100.0,
    ]


async def test_health_checks_take_an_unready_instance_out_and_put_it_back(
    pool_of: Any, pooled_instances: list[FakeService], token: dict[str, str]
) -> None:
    first, second = pooled_instances
    gateway = await pool_of(
        [first.url, second.url],
        health_check_interval_seconds=0.01,
        unhealthy_threshold=2,
        healthy_threshold=2,
    )
    first.ready = False
    await until(in_rotation(gateway, "0", 0), "the unready instance out of rotation")
    for _ in range(4):
        response = await gateway.get(f"{PREFIX}/echo", headers=token)
        assert response.json()["service"] == second.name
    assert served(first) == 0

    first.ready = True
    await until(in_rotation(gateway, "0", 1), "the instance back once ready")
    answered_by = {
        (await gateway.get(f"{PREFIX}/echo", headers=token)).json()["service"] for _ in range(2)
    }
    assert answered_by == {first.name, second.name}


@pytest.mark.parametrize(
    "limits",
    # With no request allowed to wait for a connection, an empty pool admits none either.
    [{}, {"max_pending_requests": 0}],
    ids=["default", "no-pending"],
)
async def test_with_no_instance_in_rotation_the_pool_is_unavailable_for_a_while(
    pool_of: Any,
    pooled_instances: list[FakeService],
    token: dict[str, str],
    problem: Problem,
    limits: dict[str, int],
) -> None:
    only = pooled_instances[0]
    gateway = await pool_of(
        [only.url], health_check_interval_seconds=0.01, unhealthy_threshold=1, **limits
    )
    only.ready = False
    await until(in_rotation(gateway, "0", 0), "the only instance out of rotation")
    response = await gateway.get(f"{PREFIX}/echo", headers=token)
    body = problem(response, 503, "upstream_unavailable")
    assert body["service"] == NAME
    assert response.headers["retry-after"] == "5"
    assert served(only) == 0
    _reveals_no_address(response, only.url)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_requests": 1},
        # One connection per instance and no request may wait for one.
        {"max_pending_requests": 0, "http_max_connections": 1},
    ],
    ids=["outstanding", "pending"],
)
async def test_a_full_pool_refuses_at_once_with_retry_after(
    pool_of: Any,
    pooled_instances: list[FakeService],
    token: dict[str, str],
    problem: Problem,
    limits: dict[str, int],
) -> None:
    only = pooled_instances[0]
    gateway = await pool_of([only.url], **limits)
    rejections = await metric(gateway, "gateway_upstream_breaker_rejections_total")
    slow = asyncio.create_task(gateway.get(f"{PREFIX}/slow", headers=token))
    await only.slow_arrived.wait()

    response = await gateway.get(f"{PREFIX}/echo", headers=token)
    body = problem(response, 503, "upstream_overloaded")
    assert body["service"] == NAME
    assert response.headers["retry-after"] == "5"
    assert served(only) == 1
    assert await metric(gateway, "gateway_upstream_breaker_rejections_total") == rejections + 1
    _reveals_no_address(response, only.url)

    only.release_slow.set()
    assert (await slow).status_code == 200
    assert (await gateway.get(f"{PREFIX}/echo", headers=token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "headers", "retried"),
    [
        ("GET", {}, True),
        ("HEAD", {}, True),
        ("POST", {"idempotency-key": "8b0d6c1e-retry"}, True),
        ("POST", {}, False),
        ("DELETE", {"idempotency-key": "8b0d6c1e-retry"}, False),
        ("PUT", {}, False),
    ],
)
async def test_an_answer_of_503_is_retried_on_the_other_instance_only_when_safe(
    pool_of: Any,
    pooled_instances: list[FakeService],
    token: dict[str, str],
    method: str,
    headers: dict[str, str],
    retried: bool,
) -> None:
    failing, healthy = pooled_instances
    failing.answer_status = 503
    gateway = await pool_of([failing.url, healthy.url], consecutive_failures_to_eject=100)
    retries = await metric(gateway, "gateway_upstream_retries_total")
    # Taking turns, one of the two meets the failing instance first.
    statuses = []
    for _ in range(2):
        response = await gateway.request(method, f"{PREFIX}/echo", headers={**headers, **token})
        statuses.append(response.status_code)
    statuses.sort()
    assert served(failing) == 1
    if retried:
        assert statuses == [200, 200]
        assert served(healthy) == 2
        assert await metric(gateway, "gateway_upstream_retries_total") == retries + 1
    else:
        assert statuses == [200, 503]  # the failing instance's own answer, passed on
        assert served(healthy) == 1
        assert await metric(gateway, "gateway_upstream_retries_total") == retries


async def test_retries_stop_after_the_most_attempts_allowed(
    pool_of: Any, pooled_instances: list[FakeService], token: dict[str, str]
) -> None:
    for fake in pooled_instances:
        fake.answer_status = 502
    gateway = await pool_of(
        [fake.url for fake in pooled_instances], max_retries=2, consecutive_failures_to_eject=100
    )
    response = await gateway.get(f"{PREFIX}/echo", headers=token)
    assert response.status_code == 502
    assert response.json()["code"] == "told_to_fail"
    assert [served(fake) for fake in pooled_instances] in ([2, 1], [1, 2])


async def test_a_spent_retry_budget_lets_no_more_retries_through(
    pool_of: Any, pooled_instances: list[FakeService], token: dict[str, str]
) -> None:
    failing, slow = pooled_instances
    failing.answer_status = 503
    gateway = await pool_of(
        [failing.url, slow.url],
        consecutive_failures_to_eject=100,
        retry_budget_percent=0,
        retry_budget_min_concurrency=1,
    )
    denied = await metric(gateway, "gateway_upstream_retries_denied_total")
    # The first request meets the failing instance and is retried on the slow one, where it
    # waits: the one retry the budget allows is in flight.
    first = asyncio.create_task(gateway.get(f"{PREFIX}/slow", headers=token))
    await slow.slow_arrived.wait()
    assert served(failing) == 1

    second = await gateway.get(f"{PREFIX}/slow", headers=token)
    assert second.status_code == 503  # the least busy, failing instance's answer: not retried
    assert served(failing) == 2
    assert served(slow) == 1
    assert await metric(gateway, "gateway_upstream_retries_denied_total") == denied + 1

    slow.release_slow.set()
    assert (await first).status_code == 200


async def test_a_path_may_have_a_timeout_of_its_own(
    pool_of: Any, pooled_instances: list[FakeService], token: dict[str, str], problem: Problem
) -> None:
    only = pooled_instances[0]
    gateway = await pool_of(
        [only.url], timeouts=[{"path": f"{PREFIX}/slow", "timeout_seconds": 0.1}]
    )
    response = await gateway.get(f"{PREFIX}/slow", headers=token)
    body = problem(response, 504, "upstream_timeout")
    assert body["service"] == NAME
    assert "0.1 s" in body["detail"]
    assert served(only) == 1  # a timeout is not retried
    _reveals_no_address(response, only.url)
    # Other paths keep the service's own timeout.
    assert (await gateway.get(f"{PREFIX}/echo", headers=token)).status_code == 200


async def test_a_pool_is_ready_while_one_of_its_instances_is(
    pool_of: Any, pooled_instances: list[FakeService], dead_url: str
) -> None:
    gateway = await pool_of([dead_url, pooled_instances[0].url])
    response = await gateway.get("/readyz")
    assert response.json()["services"][NAME] == "ready"
    pooled_instances[0].ready = False
    response = await gateway.get("/readyz")
    assert response.json()["services"][NAME] == "unreachable"
    assert response.status_code == 503
