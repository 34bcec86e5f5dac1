"""The circuit breaker: closed until enough failures in a row, open for a while, then one
trial decides."""

import pytest

from servicekit.resilience import CircuitBreaker
from servicekit.testing import ManualClock


def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_seconds=30, clock=clock)


def test_failures_below_the_threshold_or_broken_by_a_success_keep_it_closed() -> None:
    subject = breaker(ManualClock())
    for outcome in ("failed", "failed", "succeeded", "failed", "failed"):
        assert subject.refusal() is None
        getattr(subject, outcome)()
    assert subject.state == "closed"


def test_enough_failures_in_a_row_open_it_and_calls_are_refused_with_the_time_left() -> None:
    clock = ManualClock()
    subject = breaker(clock)
    for _ in range(3):
        subject.failed()
    assert subject.state == "open"
    clock.now += 10
    assert subject.refusal() == pytest.approx(20)


@pytest.mark.parametrize(("trial", "state"), [("succeeded", "closed"), ("failed", "open")])
def test_after_the_reset_time_one_trial_goes_through_and_decides(trial: str, state: str) -> None:
    clock = ManualClock()
    subject = breaker(clock)
    for _ in range(3):
        subject.failed()
    clock.now += 30
    assert subject.state == "half_open"
    assert subject.refusal() is None  # the trial
    assert subject.refusal() == 30  # everyone else waits for it
    getattr(subject, trial)()
    assert subject.state == state


def test_a_breaker_needs_a_threshold_and_a_reset_time() -> None:
    with pytest.raises(ValueError, match="one failure or more"):
        CircuitBreaker(failure_threshold=0, reset_seconds=1)
