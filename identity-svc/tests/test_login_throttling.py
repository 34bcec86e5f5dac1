"""Login throttling: failed sign-ins slow the next attempt and never lock. An attacker can
neither keep the owner out for more than a short wait nor guess freely (the rules:
``IdentitySettings.login_throttling``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from identity_svc.settings import IdentitySettings, LoginBackoff, ThrottledBy

if TYPE_CHECKING:
    from conftest import FromAddress, Journey, MovableClock

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
WRONG = "wrong-password"
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def rules(identity_settings: IdentitySettings) -> dict[ThrottledBy, LoginBackoff]:
    return identity_settings.login_throttling


class Botnet:
    """Guesses at one account from a new address each time, waiting exactly as long as told,
    so that every guess is checked and counted."""

    def __init__(self, journey: Journey, clock: MovableClock, from_address: FromAddress) -> None:
        self.journey, self.clock, self.from_address = journey, clock, from_address
        self.guesses = 0
        self.waited = 0

    async def guess(self, phone: str) -> httpx.Response:
        self.guesses += 1
        address = f"10.{self.guesses // 65536}.{self.guesses // 256 % 256}.{self.guesses % 256}"
        answer = await self.journey.login(phone, WRONG, headers=self.from_address(address))
        assert answer.status_code in (400, 429), answer.text
        return answer

    async def guess_and_wait(self, phone: str) -> None:
        answer = await self.guess(phone)
        if answer.status_code == 429:
            self.clock.advance(answer.json()["retry_after"])
            self.waited += answer.json()["retry_after"]


async def test_wrong_passwords_from_one_address_make_the_next_attempt_there_wait_longer_each_time(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    rule = rules["login_and_address"]
    phone, here = await journey.register(), from_address("203.0.113.7")
    for _ in range(rule.free_failures - 1):
        problem(await journey.login(phone, WRONG, headers=here), 400, "invalid_grant")
    waits = []
    for _ in range(rule.failures_that_matter - rule.free_failures + 2):
        answer = await journey.login(phone, WRONG, headers=here)
        body = problem(answer, 429, "login_throttled")
        assert body["throttled_by"] == "login_and_address"
        assert body["error"] == "invalid_grant"  # for OAuth clients
        assert int(answer.headers["retry-after"]) == body["retry_after"]
        retry_at = dt.datetime.fromisoformat(body["retry_at"])
        assert abs(retry_at - clock() - dt.timedelta(seconds=body["retry_after"])) < SECOND
        waits.append(body["retry_after"])
        # Sooner, even the right password is refused, without being checked or counted.
        clock.advance(body["retry_after"] - 1)
        early = problem(await journey.login(phone, headers=here), 429, "login_throttled")
        assert early["retry_after"] == 1
        clock.advance(1)
    doubling = [rule.first_delay_seconds * 2**n for n in range(len(waits))]
    assert waits == [min(wait, rule.max_delay_seconds) for wait in doubling]
    assert waits[-1] == waits[-2] == rule.max_delay_seconds  # five minutes at most
    assert (await journey.login(phone, headers=here)).status_code == 200


async def test_attempts_refused_while_waiting_are_not_counted(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    rule = rules["login_and_address"]
    phone, here = await journey.register(), from_address("203.0.113.7")
    for _ in range(rule.free_failures):
        await journey.login(phone, WRONG, headers=here)
    for _ in range(5):
        problem(await journey.login(phone, WRONG, headers=here), 429, "login_throttled")
    clock.advance(rule.first_delay_seconds)
    answer = problem(await journey.login(phone, WRONG, headers=here), 429, "login_throttled")
    assert answer["retry_after"] == 2 * rule.first_delay_seconds


async def test_guesses_from_many_addresses_keep_the_owner_waiting_a_minute_at_most(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    rule = rules["login"]
    assert rule.max_delay_seconds <= 60
    phone = await journey.register()
    botnet = Botnet(journey, clock, from_address)
    for _ in range(rule.failures_that_matter * 3):
        await botnet.guess_and_wait(phone)
    await botnet.guess(phone)  # and once more, as late as it may: the wait is at its longest

    # The owner, from an address she never signed in from (a new phone network), waits for
    # the account's short delay, no more, then signs in.
    new_network = from_address("203.0.113.7")
    answer = await journey.login(phone, headers=new_network)
    body = problem(answer, 429, "login_throttled")
    assert body["throttled_by"] == "login"
    assert body["retry_after"] <= rule.max_delay_seconds
    clock.advance(body["retry_after"])
    assert (await journey.login(phone, headers=new_network)).status_code == 200


async def test_the_owner_signs_in_from_her_own_address_at_once_whatever_others_guessed(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    from_address: FromAddress,
) -> None:
    phone, home = await journey.register(), from_address("203.0.113.7")
    assert (await journey.login(phone, headers=home)).status_code == 200
    botnet = Botnet(journey, clock, from_address)
    for _ in range(rules["login"].failures_that_matter * 3):
        await botnet.guess_and_wait(phone)
    await botnet.guess(phone)
    assert (await journey.login(phone, headers=home)).status_code == 200
    # Her mistakes at home still count, at home: a few, then she waits like anyone.
    for _ in range(rules["login_and_address"].free_failures - 1):
        assert (await journey.login(phone, WRONG, headers=home)).status_code == 400


async def test_guessing_at_one_account_from_any_number_of_addresses_stays_bounded(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    from_address: FromAddress,
) -> None:
    rule = rules["login"]
    phone = await journey.register()
    botnet = Botnet(journey, clock, from_address)
    period = 2 * rule.window_seconds  # long enough to reach the steady rate
    while botnet.waited < period:
        await botnet.guess_and_wait(phone)
    # Past its free failures, at most one guess per longest wait: 1,440 a day as shipped.
    assert botnet.guesses <= rule.failures_that_matter + period // rule.max_delay_seconds + 1
    assert botnet.guesses >= period // rule.max_delay_seconds  # slowed, not locked


async def test_spraying_many_phones_from_one_address_slows_it_alike_for_every_phone(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    rule = rules["client_address"]
    assert rule.free_failures >= 100  # many people share a carrier's address
    shared = from_address("198.51.100.20")
    neighbour, stranger = await journey.register(), await journey.register()
    assert (await journey.login(neighbour, headers=shared)).status_code == 200
    for _ in range(rule.free_failures - 1):
        answer = await journey.login(journey.new_phone(), WRONG, headers=shared)
        problem(answer, 400, "invalid_grant")
    for _ in range(4):  # each phone new, the address's wait growing
        answer = await journey.login(journey.new_phone(), WRONG, headers=shared)
        wait = problem(answer, 429, "login_throttled")["retry_after"]
        clock.advance(wait)
    problem(await journey.login(journey.new_phone(), WRONG, headers=shared), 429, "login_throttled")

    # Alike for a registered phone and an unknown one: throttling reveals no registration.
    registered = problem(await journey.login(stranger, headers=shared), 429, "login_throttled")
    unknown = problem(await journey.login("13766666666", headers=shared), 429, "login_throttled")
    for answer in (registered, unknown):
        del answer["request_id"]
    assert registered == unknown
    assert registered["throttled_by"] == "client_address"
    # Who signed in from the address before is not slowed; nor is anyone elsewhere.
    assert (await journey.login(neighbour, headers=shared)).status_code == 200
    elsewhere = from_address("192.0.2.1")
    assert (await journey.login(stranger, headers=elsewhere)).status_code == 200


async def test_an_unregistered_phone_is_throttled_alike_so_throttling_reveals_nothing(
    journey: Journey, rules: dict[ThrottledBy, LoginBackoff], from_address: FromAddress
) -> None:
    registered, here = await journey.register(), from_address("203.0.113.7")
    answers: dict[str, list[tuple[int, Any]]] = {}
    for phone in (registered, "13700000000"):
        answers[phone] = []
        for _ in range(rules["login_and_address"].free_failures + 1):
            answer = await journey.login(phone, "guess", headers=here)
            answers[phone].append((answer.status_code, answer.json().get("retry_after")))
    assert answers[registered] == answers["13700000000"]
    assert answers[registered][-1][0] == 429


async def test_failures_spread_beyond_the_window_do_not_slow(
    journey: Journey,
    clock: MovableClock,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    rule = rules["login_and_address"]
    phone, here = await journey.register(), from_address("203.0.113.7")
    for _ in range(3 * rule.free_failures):
        problem(await journey.login(phone, WRONG, headers=here), 400, "invalid_grant")
        clock.advance(rule.window_seconds / (rule.free_failures - 1) + 1)
    assert (await journey.login(phone, headers=here)).status_code == 200


async def test_a_sign_in_forgets_its_own_failures_there(
    journey: Journey,
    rules: dict[ThrottledBy, LoginBackoff],
    problem: Problem,
    from_address: FromAddress,
) -> None:
    phone, here = await journey.register(), from_address("203.0.113.7")
    for _ in range(2):
        for _ in range(rules["login_and_address"].free_failures - 1):
            problem(await journey.login(phone, WRONG, headers=here), 400, "invalid_grant")
        assert (await journey.login(phone, headers=here)).status_code == 200


async def test_guesses_sent_at_once_are_checked_one_at_a_time(
    journey: Journey, rules: dict[ThrottledBy, LoginBackoff], from_address: FromAddress
) -> None:
    rule = rules["login_and_address"]
    phone, here = await journey.register(), from_address("203.0.113.7")
    answers = await asyncio.gather(
        *(journey.login(phone, WRONG, headers=here) for _ in range(4 * rule.free_failures))
    )
    statuses = sorted(answer.status_code for answer in answers)
    # Only the free failures were checked; every other guess met the wait they started.
    assert statuses.count(400) == rule.free_failures - 1
    assert statuses.count(429) == 3 * rule.free_failures + 1
    retry_afters = {answer.json().get("retry_after") for answer in answers}
    assert max(retry_afters - {None}) == rule.first_delay_seconds
